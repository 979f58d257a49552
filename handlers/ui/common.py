"""Small pieces shared by the builders: text objects, results, status lines.

Escaping and cutting live in `handlers.ui.text` (shared with the channel messages).
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handlers import ids
from handlers.ui.channel import slack_date
from handlers.ui.text import HINT_MAX as HINT_MAX  # re-exported for the builders
from handlers.ui.text import INPUT_MAX, OPTION_TEXT_MAX, TEXT_MAX, clip_mrkdwn
from handlers.ui.text import clip as clip
from handlers.ui.text import code as code
from handlers.ui.text import escape as escape  # handlers/ui/tools.py still says escape
from handlers.ui.text import mrkdwn as mrkdwn
from registry import ConnectionTestResult, UrlCheckResult

STEP_LABELS = {
    "reachable": "Registry reachable",
    "authenticated": "Signed in",
    "pull": "Pull access",
    "push": "Push access",
}
HEALTH_LABELS = {
    "healthy": ":large_green_circle: healthy",
    "failing": ":red_circle: failing",
    "unknown": ":white_circle: not checked yet",
}
SECRET_LIMIT_HINT = (
    f"At most {INPUT_MAX:,} characters: Slack cannot take a longer secret in this field."
)


def md(text: str) -> MarkdownTextObject:
    """mrkdwn cut to Slack's 3,000 characters (never inside an entity or a token)."""
    return MarkdownTextObject(text=clip_mrkdwn(text, TEXT_MAX))


def plain(text: str, limit: int = OPTION_TEXT_MAX) -> PlainTextObject:
    return PlainTextObject(text=clip(text, limit), emoji=True)


def section(block_id: str, text: str) -> SectionBlock:
    return SectionBlock(block_id=block_id, text=md(text))


def context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[md(text)])


def when(moment: datetime | None) -> str:
    return slack_date(moment) if moment is not None else "never"


def health_label(health: str) -> str:
    return HEALTH_LABELS.get(health, health)


def test_result_text(result: ConnectionTestResult, *, heading: str = "Connection test") -> str:
    """Every step with its outcome; the failed step says why (never a secret)."""
    if result.ok:
        lines = [f":white_check_mark: *{heading} passed* ({result.latency_ms:.0f} ms)"]
    else:
        failed = result.failed_step
        where = f" at *{STEP_LABELS.get(failed.name, failed.name)}*" if failed else ""
        kind = f" ({result.error_kind.value.replace('_', ' ')})" if result.error_kind else ""
        lines = [f":x: *{heading} failed*{where}{kind}: {mrkdwn(result.message)}"]
    for step in result.steps:
        label = STEP_LABELS.get(step.name, step.name)
        if step.skipped:
            mark = ":heavy_minus_sign:"
        elif step.ok:
            mark = ":white_check_mark:"
        else:
            mark = ":x:"
        detail = f" — {mrkdwn(step.detail)}" if step.detail else ""
        lines.append(f"{mark} {label}{detail}")
    return clip_mrkdwn("\n".join(lines))


def url_check_text(url: str, result: UrlCheckResult) -> str:
    if result.ok:
        scheme = {
            "none": "no sign-in needed (anonymous access)",
            "basic": "asks for a user name and password (Basic)",
            "bearer": "uses token authentication (Bearer)",
        }.get(result.auth_scheme or "", result.auth_scheme or "unknown sign-in")
        realm = f", token service {mrkdwn(result.realm)}" if result.realm else ""
        return clip_mrkdwn(
            f":white_check_mark: *URL Check:* {code(url)} is a registry: {scheme}{realm}. "
            f"{mrkdwn(result.message)}"
        )
    kind = f" ({result.error_kind.value.replace('_', ' ')})" if result.error_kind else ""
    return clip_mrkdwn(f":x: *URL Check failed*{kind}: {mrkdwn(result.message)}")


def button_row(
    block_id: str, text: str, action_id: str, *, style: str | None = None
) -> ActionsBlock:
    """A row holding one button."""
    return ActionsBlock(
        block_id=block_id,
        elements=[ButtonElement(text=plain(text), action_id=action_id, style=style)],
    )


def form_modal(
    callback_id: str,
    *,
    title: str,
    submit: str,
    private_metadata: str,
    blocks: list[Block],
    status: str | None = None,
) -> View:
    """A modal with a submit button and Cancel; `status` (what is going on, what went wrong)
    is its last block when there is one."""
    if status:
        blocks = [*blocks, section(ids.B_STATUS, status)]
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(title, 24),
        submit=plain(submit, 24),
        close=plain("Cancel", 24),
        private_metadata=private_metadata,
        blocks=blocks,
    )


def notice_view(title: str, text: str, *, callback_id: str = ids.VIEW_NOTICE) -> View:
    """A modal that only says something (a result, a refusal)."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(title, 24),
        close=plain("Close", 24),
        blocks=[section(ids.B_STATUS, text)],
    )
