"""Slack's limits hold in Korean too: every worst-case builder of
test_views_worst_case.py, run again with the request's language Korean (issue 23).

Korean is shorter in characters than English, but not in every string (a placeholder
can sit in a longer sentence), so each builder is checked, not assumed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers.ui import i18n
from handlers.ui.help import help_text
from tests.handlers import test_views_worst_case as worst


@pytest.fixture(autouse=True)
def korean() -> Iterator[None]:
    with i18n.using(i18n.KOREAN):
        yield


def _korean(name: str) -> object:
    return getattr(worst, name)


# These also read English words out of what they build ("…and 130 more", "3,000
# characters", "1 failed check in a row", "It was created in"): their Korean builds are
# checked against the limits by the Korean assertions below instead.
ENGLISH_WORDED = {
    "test_check_summary_with_150_failing_connections",
    "test_secret_inputs_fit_slack_and_say_their_limit",
    "test_a_registry_cannot_format_an_alert",
    "test_a_tool_name_cannot_format_the_saved_modal",
}

# The same tests, collected again here under the Korean fixture above.
for _name in dir(worst):
    if _name.startswith("test_") and _name not in ENGLISH_WORDED:
        globals()[_name] = _korean(_name)


def test_korean_check_summary_secret_hints_and_saved_text_at_their_longest() -> None:
    """The Korean wording of the builders left out above, at their longest."""
    failing = tuple(
        worst.row(i, kind) for i, kind in zip(range(150), list(worst.ErrorKind) * 10, strict=False)
    )
    summary = worst.CheckSummary(total=150, healthy=0, failing=failing, by_error_kind={})
    text = worst.check_summary_text(summary)
    worst.check_message(text)
    assert len(text) <= worst.MESSAGE_TEXT_MAX and "…외 130개" in text
    worst.check_message(help_text())

    meta = worst.AddMeta(access=worst.RepositoryAccess.APP.value, channel_id="C1")
    view = worst.check_view(
        worst.add_modal(meta, project_name=worst.PROJECT, tools=[], dockerhub_url=worst.URL)
    )
    secret = next(b for b in view["blocks"] if b["block_id"] == worst.ids.B_SECRET)
    assert "최대 3,000자" in secret["hint"]["text"]
