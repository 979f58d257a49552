"""Every modal, Home tab and message the product shows, built with the largest inputs it
accepts, passes the Slack stand-in's limits table and cannot be hijacked by a name.

Largest inputs: 255-character repository paths, 2,048-character registry URLs, 150
repositories in one project (the list and the Home tab page through them), 60 projects
on Home, 100 registered tools, usernames of 255 characters, every registry error kind
with a 400-character detail (the cap of registry messages), Harbor project names at
Harbor's 255, and names full of `<>&*_~`, backticks, emoji and Korean. Each surface
goes through ``validate_view`` / ``validate_message`` (what Slack would refuse), and
every mrkdwn text is checked for injected links, mentions and formatting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import notices
from bot.outbox import Outgoing
from bot.usecases.checks import CheckSummary
from bot.usecases.forms import (
    MAX_HOST,
    MAX_REPOSITORY,
    MAX_URL,
    Creation,
    Field,
    url_problem,
)
from bot.usecases.repositories import RepositoryPage, RepositoryRow, SaveOutcome
from bot.usecases.tools import GrantInfo, ToolGrants, ToolInfo, ToolPage
from handlers import ids
from handlers.delivery import call_of
from handlers.field_errors import field_errors
from handlers.ui.channel import render
from handlers.ui.channel import test_reply as thread_reply  # not a test
from handlers.ui.common import notice_view, url_check_text
from handlers.ui.common import test_result_text as result_text  # not a test
from handlers.ui.fields import errors_text
from handlers.ui.help import HELP
from handlers.ui.manage import ManageMeta, account_modal, delete_modal
from handlers.ui.repository_form import AddMeta, add_modal, harbor_project_options, saved_modal
from handlers.ui.repository_list import check_summary_text, home_view, list_blocks, list_text
from handlers.ui.text import ELLIPSIS, MESSAGE_TEXT_MAX, TEXT_MAX, escape
from handlers.ui.tools import (
    tool_grants_modal,
    tool_modal,
    tool_remove_modal,
    tools_blocks,
    tools_text,
)
from handlers.views import _saved_text
from registry import (
    ALL_TYPES,
    STEP_AUTHENTICATED,
    STEP_PULL,
    STEP_PUSH,
    STEP_REACHABLE,
    CheckStep,
    ConnectionTestResult,
    ErrorKind,
    RegistryError,
    RegistryType,
    UrlCheckResult,
    type_info,
)
from registry.oci import REPOSITORY_NAME
from storage.enums import OutboxKind, RepositoryAccess
from storage.models import ImageRepository
from tests.support.slack_api import validate_message, validate_response_action, validate_view
from tests.support.slack_limits import rule

JsonDict = dict[str, Any]

ACTOR = "U0ACTOR"
# Everything a name could try: a link, mentions, an entity, each formatting mark.
HOSTILE = "*bold* _it_ ~s~ `code` <http://evil.example|click> <@U666> <!channel> &amp; 한국어 🚀"
INJECTIONS = ("<http", "<@U666", "<!channel", "*bold*", "_it_", "~s~", "`code`")

# The largest values the use cases accept.
REPOSITORY = "team/" + "a" * (MAX_REPOSITORY - len("team/"))
ACCEPTED_URL = "https://" + ".".join(["h" * 63] * 4)[:MAX_HOST] + ":65535"
# The largest a stored row holds: entries (and tools) saved before the host-name rule.
_HOST = ".".join(["h" * 63] * 32)
URL = ("https://" + _HOST)[: MAX_URL - len(":5000")].rstrip(".") + ":5000"
# Issue 19: accepted before the host-name rule; once escaped, 6,000 characters of `&amp;`.
HOSTILE_URL = "https://" + "&" * 1200 + ".example"
USERNAME = ("robot$ci_" + HOSTILE * 4)[:255]
PROJECT = "p_-." + "프" * 0 + "x" * 76  # project names: [A-Za-z0-9._-]{1,80}
TOOL_NAME = "Harbor_main-" + "t" * 68  # tool names: 80 of letters, digits, space . _ -
DETAIL = (HOSTILE + " ") * 12  # more than the 400 a registry message may keep


def detail(kind: ErrorKind) -> str:
    """A registry message as the registry package caps it (400 characters, one line)."""
    return RegistryError(kind, f"{kind.value}: {DETAIL}").message


def test_the_inputs_are_the_largest_the_product_accepts() -> None:
    assert len(REPOSITORY) == MAX_REPOSITORY and REPOSITORY_NAME.match(REPOSITORY)
    assert len(ACCEPTED_URL) == 8 + MAX_HOST + 6 and url_problem(ACCEPTED_URL) is None
    # Longer URLs need a longer host, which is no DNS name: refused where typed.
    assert url_problem(URL) is not None and url_problem(HOSTILE_URL) is not None
    assert all(390 <= len(detail(kind)) <= 400 for kind in ErrorKind)


def row(index: int, kind: ErrorKind = ErrorKind.AUTHENTICATION_FAILED) -> RepositoryRow:
    return RepositoryRow(
        id=10_000_000 + index,
        project_id=7,
        access=RepositoryAccess.PULL_ONLY if index % 2 else RepositoryAccess.APP,
        registry_type=RegistryType.HARBOR,
        type_label="Harbor",
        registry_url=URL,
        repository=REPOSITORY,
        username=USERNAME,
        tool_name=TOOL_NAME,
        added_by=ACTOR,
        health="failing",
        last_checked_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        last_error_kind=kind.value,
        last_message=detail(kind),
        can_delete_in_ir=bool(index % 3),
    )


def page(number: int, total: int = 150, per_page: int = 20) -> RepositoryPage:
    pages = -(-total // per_page)
    first = (number - 1) * per_page
    rows = tuple(row(i) for i in range(first, min(first + per_page, total)))
    return RepositoryPage(
        project_id=7, project_name=PROJECT, rows=rows, page=number, pages=pages, total=total
    )


def tool(index: int) -> ToolInfo:
    return ToolInfo(
        id=index,
        name=TOOL_NAME[: 80 - len(str(index))] + str(index),
        url=URL,
        username=USERNAME,
        tls_verify=bool(index % 2),
        has_ca_bundle=not index % 3,
        repositories=150,
    )


def failing_result(kind: ErrorKind) -> ConnectionTestResult:
    steps = (
        CheckStep(STEP_REACHABLE, True, detail(kind)),
        CheckStep(STEP_AUTHENTICATED, False, detail(kind)),
        CheckStep(STEP_PULL, False, detail(kind), skipped=True),
        CheckStep(STEP_PUSH, False, detail(kind), skipped=True),
    )
    return ConnectionTestResult(
        steps=steps, error_kind=kind, message=detail(kind), latency_ms=12345.6, round_trips=9
    )


def passed_result() -> ConnectionTestResult:
    steps = tuple(
        CheckStep(name, True, detail(ErrorKind.REGISTRY_ERROR))
        for name in (STEP_REACHABLE, STEP_AUTHENTICATED, STEP_PULL, STEP_PUSH)
    )
    return ConnectionTestResult(
        steps=steps,
        error_kind=None,
        message="ok",
        latency_ms=1.0,
        round_trips=4,
        auth_scheme="bearer",
    )


def image_repository() -> ImageRepository:
    return ImageRepository(
        id=99,
        project_id=7,
        access=RepositoryAccess.APP.value,
        registry_type=RegistryType.IMAGE_REGISTRY.value,
        registry_url=URL,
        repository=REPOSITORY,
        username=USERNAME,
        added_by=ACTOR,
        last_error_kind=ErrorKind.TLS_ERROR.value,
        last_message=detail(ErrorKind.TLS_ERROR),
    )


# -- checking what Slack would show --------------------------------------------

_OWN_TOKEN = re.compile(rf"<(?:@{ACTOR}|!date\^\d+\^[^|>]*\|[^>]*)>")
_CODE_SPAN = re.compile(r"`[^`]*`")


def mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def assert_no_injection(text: str) -> None:
    """No link, mention or formatting in `text` except the product's own."""
    stray = [token for token in re.findall(r"<[^>]*>?", text) if not _OWN_TOKEN.fullmatch(token)]
    assert stray == [], (stray, text[:300])
    assert all(entity in ("&amp;", "&lt;", "&gt;") for entity in re.findall(r"&[a-z]*;?", text)), (
        text
    )
    prose = _CODE_SPAN.sub("", text)
    for marker in INJECTIONS:
        assert marker not in prose, (marker, text[:300])


def check_view(view: View, kind: str = "modal") -> JsonDict:
    data = view.to_dict()  # slack_sdk's own validation: the bot would crash building it
    assert validate_view(data, expected_type=kind) == []
    for text in mrkdwn_texts(data):
        assert_no_injection(text)
    return data


def check_message(text: str, blocks: list[Block] | None = None) -> None:
    params: JsonDict = {"channel": "C1", "text": text}
    if blocks is not None:
        params["blocks"] = [block.to_dict() for block in blocks]
    assert validate_message(params) is None, validate_message(params)
    assert_no_injection(text)
    for mrkdwn in mrkdwn_texts(params.get("blocks", [])):
        assert_no_injection(mrkdwn)


# -- modals ---------------------------------------------------------------------


def add_variants() -> Iterator[tuple[AddMeta, list[ToolInfo]]]:
    for access in RepositoryAccess:
        for registry_type in ALL_TYPES:
            for creation in Creation:
                for tools in ([], [tool(i) for i in range(1, 101)]):
                    meta = AddMeta(
                        access=access.value,
                        channel_id="C1",
                        registry_type=registry_type.value,
                        creation=creation.value,
                        fp="f" * 32,
                    )
                    yield meta, tools


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_add_modal_with_every_error_kind_at_its_longest(kind: ErrorKind) -> None:
    url_failed = UrlCheckResult(
        ok=False, error_kind=kind, message=detail(kind), auth_scheme=None, realm=None
    )
    url_ok = UrlCheckResult(
        ok=True, error_kind=None, message=detail(kind), auth_scheme="bearer", realm=URL
    )
    for meta, tools in add_variants():
        for url_check in (url_check_text(URL, url_failed), url_check_text(URL, url_ok)):
            view = add_modal(
                meta,
                project_name=PROJECT,
                tools=tools,
                dockerhub_url=URL,
                url_check=url_check,
                test_result=result_text(failing_result(kind)),
                status=":x: Not saved:\n" + errors_text({f: detail(kind) for f in Field}),
            )
            data = check_view(view)
            # Every field error goes under a block the view has (Slack refuses others).
            answer = {
                "response_action": "errors",
                "errors": field_errors(
                    {f: detail(kind) for f in Field}, ids.FIELD_BLOCKS, data, ids.B_REPOSITORY
                ),
            }
            assert validate_response_action(answer, data) == []


def test_long_texts_are_cut_with_an_ellipsis_not_refused() -> None:
    meta = AddMeta(access=RepositoryAccess.APP.value, channel_id="C1")
    huge = escape("\n".join(detail(k) for k in ErrorKind) * 3)  # ~20 000 characters
    data = check_view(
        add_modal(meta, project_name=PROJECT, tools=[], dockerhub_url=URL, status=huge)
    )
    status = next(b for b in data["blocks"] if b["block_id"] == ids.B_STATUS)["text"]["text"]
    assert len(status) == TEXT_MAX and status.endswith(ELLIPSIS)
    notice = check_view(notice_view("A title much longer than Slack's 24", huge))
    assert notice["title"]["text"].endswith(ELLIPSIS) and len(notice["title"]["text"]) == 24
    assert notice["blocks"][0]["text"]["text"].endswith(ELLIPSIS)


def test_secret_inputs_fit_slack_and_say_their_limit() -> None:
    meta = AddMeta(access=RepositoryAccess.APP.value, channel_id="C1")
    views = [
        add_modal(meta, project_name=PROJECT, tools=[], dockerhub_url=URL).to_dict(),
        account_modal(row(1), ManageMeta(repository_id=1)).to_dict(),
        tool_modal(None).to_dict(),
        tool_modal(tool(1)).to_dict(),
    ]
    limit = rule("plain_text_input.max_length").max
    for data in views:
        secret = next(
            b for b in data["blocks"] if b["block_id"] in (ids.B_SECRET, ids.B_TOOL_SECRET)
        )
        assert secret["element"]["max_length"] == limit
        assert "3,000 characters" in secret["hint"]["text"]


def test_saved_account_delete_and_notice_modals() -> None:
    meta = AddMeta(access=RepositoryAccess.PULL_ONLY.value, channel_id="C1")
    for result in (failing_result(ErrorKind.TIMEOUT), passed_result(), None):
        outcome = SaveOutcome(repository=row(3), result=result, created_in_registry=True)
        check_view(saved_modal(meta, _saved_text(outcome)))
    manage = ManageMeta(repository_id=2**62, source="home")
    for kind in ErrorKind:
        # as handlers/views.py composes them: our words, the message escaped
        status = result_text(failing_result(kind)) + f"\n:x: {escape(detail(kind))}"
        check_view(account_modal(row(1), manage, status=status))
        for index in (1, 3):  # can and cannot delete in the registry
            check_view(delete_modal(row(index), manage, status=f":x: {escape(detail(kind))}"))
        check_view(notice_view("Connection Test", result_text(failing_result(kind))))


def test_tool_modals_and_list() -> None:
    for status in (None, result_text(failing_result(ErrorKind.TLS_ERROR))):
        check_view(tool_modal(None, status=status))
        check_view(tool_modal(tool(1), status=status))
        check_view(tool_remove_modal(tool(2), status=status))
    for is_admin in (True, False):
        for number in (1, 3, 5):  # 100 tools, 20 a page: first, middle, last
            shown = ToolPage(tuple(tool(i) for i in range(1, 21)), number, 5, 100)
            blocks = tools_blocks(shown, is_admin=is_admin)
            check_message(tools_text(shown), blocks)
    # A worst-case grants modal: 200 grants (80 shown), the longest names.
    grants = ToolGrants(
        tool(1),
        tuple(GrantInfo(i, "p" * 80, "n" * 254 + "/", ACTOR) for i in range(200)),
    )
    check_view(tool_grants_modal(grants, status=result_text(failing_result(ErrorKind.TLS_ERROR))))


# -- the list, the Home tab, /imagerepo check --------------------------------------


@pytest.mark.parametrize("number", [1, 2, 8])
def test_list_message_pages_through_150_repositories(number: int) -> None:
    shown = page(number)
    blocks = list_blocks(7, PROJECT, shown)
    check_message(list_text(PROJECT, shown), blocks)
    assert len(blocks) <= rule("message.blocks").max
    pager = [b for b in blocks if b.block_id == "pager"]
    assert pager, "150 repositories do not fit one message: the list must page"


@pytest.mark.parametrize("number", [1, 8])
def test_home_with_60_projects_and_150_repositories(number: int) -> None:
    projects = [(i, f"{PROJECT[:78]}{i:02d}") for i in range(60)]
    data = check_view(home_view(projects, 7, page(number)), kind="home")
    assert len(data["blocks"]) <= rule("home.blocks").max
    assert any(b["block_id"] == "pager" for b in data["blocks"])
    check_view(home_view([], None, None), kind="home")


def test_check_summary_with_150_failing_connections() -> None:
    failing = tuple(row(i, kind) for i, kind in zip(range(150), list(ErrorKind) * 10, strict=False))
    summary = CheckSummary(total=150, healthy=0, failing=failing, by_error_kind={})
    text = check_summary_text(summary)
    check_message(text)
    assert len(text) <= MESSAGE_TEXT_MAX and "…and 130 more" in text
    check_message(HELP)


# -- channel messages ---------------------------------------------------------------


def every_notice(repo: ImageRepository) -> list[notices.Notice]:
    """Every channel message bot/ can queue about `repo`, as the outbox stores it (through
    `notices.dump` / `notices.load`, so the round trip is tested too)."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    now = datetime(2026, 1, 9, tzinfo=UTC)
    entry = notices.EntryFacts.of(repo)
    every: list[notices.Notice] = [
        notices.RepositoryAdded(entry, user_id=ACTOR, healthy=False),
        notices.RepositoryAdded(entry, user_id=ACTOR, healthy=True),
        notices.RepositoryDeleted(entry, user_id=ACTOR, in_registry=True),
        notices.RepositoryDeleted(entry, user_id=ACTOR, in_registry=False),
        notices.FailingAlert(entry, since=since, now=now),
        notices.RecoveredAlert(entry, since=since, now=now),
        notices.RecoveredReply(entry, failing_for=timedelta(days=400)),
        notices.ExpiryWarning(entry, expires_at=now, now=since, threshold=7),
        notices.ExpiryWarning(entry, expires_at=now, now=since, threshold=1, in_thread=True),
        notices.ExpiryReplaced(entry),
    ]
    stored = [notices.load(json.loads(notices.dump(n))) for n in every]
    assert stored == every
    return every


def test_channel_messages_at_their_longest() -> None:
    for notice in every_notice(image_repository()):
        message = render(notice)
        check_message(message.text, message.blocks)


def _alerted_repositories() -> Iterator[ImageRepository]:
    """Stored entries at their worst: the longest URL a row holds, the hostile `&` URL of
    issue 19, user names of `&`s and of backticks, a registry error full of mrkdwn."""
    for url in (URL, HOSTILE_URL, ACCEPTED_URL):
        for username in ("&" * 255, "`" * 255, USERNAME):
            repo = image_repository()
            repo.registry_url = url
            repo.username = username
            repo.consecutive_failures = 1_000_000
            repo.last_checked_at = datetime(2026, 1, 2, tzinfo=UTC)
            repo.snoozed_by = ACTOR
            repo.snooze_until_recovered = True
            yield repo


def test_alerts_at_their_longest_are_valid_and_inert() -> None:
    """Issue 19, 1: an alert whose escaped URL is over 3,000 characters was refused by
    slack_sdk, so the channel never heard of the failing entry."""
    for repo in _alerted_repositories():
        for notice in every_notice(repo):
            message = render(notice)
            check_message(message.text, message.blocks)
            first = message.blocks[0].to_dict()["text"]["text"]
            # the sentence keeps its end: the cut is inside the values, not the words
            assert first.endswith("."), first[-80:]
            late = call_of(
                Outgoing(
                    kind=OutboxKind.REPLY,
                    channel_id="C1",
                    notice=notice,
                    legacy_text="",
                    legacy_blocks=None,
                    anchor_ts="1.2",
                    late=True,
                    queued_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )[1]
            check_message(late["text"], None)
            assert validate_message(late) is None
    reply = thread_reply(ACTOR, result_text(failing_result(ErrorKind.TLS_ERROR)))
    check_message(reply.text, reply.blocks)


def test_a_registry_cannot_format_an_alert() -> None:
    repo = image_repository()
    repo.last_message = "*bold* _it_ ~strike~ `code` &amp; <@U666>"
    repo.consecutive_failures = 1
    alert = render(
        notices.FailingAlert(
            notices.EntryFacts.of(repo),
            since=datetime(2026, 1, 1, tzinfo=UTC),
            now=datetime(2026, 1, 2, tzinfo=UTC),
        )
    )
    reason = alert.blocks[1].to_dict()["elements"][0]["text"]
    assert "*bold*" not in reason and "`code`" not in reason and "&amp;amp;" in reason
    assert "\n1 failed check in a row" in reason


def test_clipping_after_escaping_never_cuts_an_entity() -> None:
    from handlers.ui.text import code, mrkdwn

    for limit in range(3, 40):
        for text in (mrkdwn("&" * 50, limit), code("&" * 50, limit), mrkdwn("a<>" * 20, limit)):
            assert len(text) <= limit and text.endswith((ELLIPSIS, f"{ELLIPSIS}`"))
            assert re.fullmatch(r"`?(?:&amp;|&lt;|&gt;|a)*…`?", text), text


# -- Harbor project suggestions -------------------------------------------------------


def test_harbor_project_options_fit_an_option() -> None:
    names = ["h" * 255, "k" * 150, "한국어-🚀-" + "x" * 100, HOSTILE] + [
        f"p{i}" for i in range(200)
    ]
    options = [o.to_dict() for o in harbor_project_options(names)]
    assert len(options) == 100
    assert all(o["value"] in names for o in options), "a value must name the project exactly"
    assert "h" * 255 not in {o["value"] for o in options}, "cannot come back intact: left out"
    long_one = next(o for o in options if o["value"] == "k" * 150)
    assert long_one["text"]["text"].endswith(ELLIPSIS)
    select = {
        "type": "section",
        "block_id": "s",
        "text": {"type": "mrkdwn", "text": "x"},
        "accessory": {"type": "static_select", "action_id": "a", "options": options},
    }
    assert validate_message({"channel": "C1", "text": "x", "blocks": [select]}) is None


def test_escaping_keeps_names_readable() -> None:
    """Word-inner underscores stay (my_project); only marks that could format are swapped."""
    from handlers.ui.text import clip_mrkdwn, code

    assert escape("my_project NAME_UNKNOWN") == "my_project NAME_UNKNOWN"
    assert escape("<@U1> & *b*") == "&lt;@U1&gt; &amp; \u2217b\u2217"
    assert escape("Create one with `/imagerepo project create NAME`.").count("`") == 2
    assert code("a`b<c>") == "`a\u02cbb&lt;c&gt;`"
    assert type_info(RegistryType.HARBOR).label == "Harbor"
    # a cut never leaves half an entity, half a <!date…> token or an open code span
    assert clip_mrkdwn("abc &amp; def", 8) == "abc …"
    assert clip_mrkdwn("at <!date^1^{date}|2026> x", 10) == "at …"
    assert clip_mrkdwn("see `team/app` now", 9) == "see …"


def test_a_tool_name_cannot_format_the_saved_modal() -> None:
    """Issue 19, 2: the tool's name went unescaped into "It was created in ..."."""
    from dataclasses import replace

    named = replace(row(3), tool_name="_main_ *prod* Harbor")
    text = _saved_text(SaveOutcome(repository=named, result=None, created_in_registry=True))
    assert "It was created in" in text
    assert_no_injection(text.replace("_main_", "_it_"))
    assert "*prod*" not in text


def test_more_than_100_tools_of_a_kind_are_chosen_from_an_external_select() -> None:
    """Issue 19, 5: a tool select showed the first 100 tools of a kind."""
    from handlers.ui.repository_form import tool_options, tools_of_type
    from tests.support.slack_api import validate_options_answer

    many = [tool(i) for i in range(1, 151)]
    meta = AddMeta(
        access=RepositoryAccess.APP.value, channel_id="C1", registry_type="harbor", fp=""
    )
    data = check_view(add_modal(meta, project_name=PROJECT, tools=many, dockerhub_url=URL))
    [select] = [b["element"] for b in data["blocks"] if b["block_id"] == ids.B_TOOL]
    assert select["type"] == "external_select" and "options" not in select
    answer = {"options": [o.to_dict() for o in tool_options(tools_of_type(many, "harbor"))]}
    assert len(answer["options"]) == 100 and validate_options_answer(answer) == []
    typed = tool_options(many, "t150")
    assert [o.value for o in typed] == ["150"]
    few = check_view(add_modal(meta, project_name=PROJECT, tools=many[:100], dockerhub_url=URL))
    [select] = [b["element"] for b in few["blocks"] if b["block_id"] == ids.B_TOOL]
    assert select["type"] == "static_select" and len(select["options"]) == 100


def test_home_with_150_projects_starts_on_the_one_shown() -> None:
    projects = [(i, f"{PROJECT[:70]}{i:03d}") for i in range(1, 151)]
    data = check_view(home_view(projects, 130, page(1)), kind="home")
    [select] = [b["accessory"] for b in data["blocks"] if b["block_id"] == ids.B_HOME_PROJECT]
    assert select["type"] == "external_select"
    assert select["initial_option"]["value"] == "130"
    few = check_view(home_view(projects[:100], 99, page(1)), kind="home")
    [select] = [b["accessory"] for b in few["blocks"] if b["block_id"] == ids.B_HOME_PROJECT]
    assert select["type"] == "static_select" and select["initial_option"]["value"] == "99"
