"""Small pieces shared by the builders: text objects, results, status lines.

Escaping and cutting live in `handlers.ui.text` (shared with the channel messages).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

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

from bot import logs
from handlers import ids
from handlers.ui.channel import slack_date
from handlers.ui.i18n import N_, _, number
from handlers.ui.registry_words import error_kind_words, skipped_words, split_failure
from handlers.ui.text import HINT_MAX as HINT_MAX  # re-exported for the builders
from handlers.ui.text import INPUT_MAX, OPTION_TEXT_MAX, TEXT_MAX, VIEW_TITLE_MAX, clip_mrkdwn
from handlers.ui.text import clip as clip
from handlers.ui.text import code as code
from handlers.ui.text import mrkdwn as mrkdwn
from registry import ConnectionTestResult, UrlCheckResult

# English msgids, shown through `_()` where they are read (the request's language).
STEP_LABELS = {
    "reachable": N_("Registry reachable"),
    "authenticated": N_("Signed in"),
    "pull": N_("Pull access"),
    "push": N_("Push access"),
}
HEALTH_LABELS = {
    "healthy": N_(":large_green_circle: healthy"),
    "failing": N_(":red_circle: failing"),
    "unknown": N_(":white_circle: not checked yet"),
}
_SECRET_LIMIT = N_("At most {count} characters: Slack cannot take a longer secret in this field.")


def secret_limit_hint() -> str:
    """How long a secret may be, in this request's language."""
    return _(_SECRET_LIMIT).format(count=f"{INPUT_MAX:,}")


WENT_WRONG = N_("{lead} (it was logged with request id `{request_id}`). Try again.")
SOMETHING_WENT_WRONG = N_("Something went wrong on our side")


def went_wrong(lead: str = SOMETHING_WENT_WRONG) -> str:
    """bot.logs.went_wrong in the reader's language (`lead` an English msgid), keeping the
    request id to quote; call before logging, like the original."""
    return logs.went_wrong(_(lead), template=_(WENT_WRONG))


def step_label(name: str) -> str:
    """A Connection Test step's name as the person reads it."""
    return _(STEP_LABELS[name]) if name in STEP_LABELS else name


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
    return slack_date(moment) if moment is not None else _("never")


def health_label(health: str) -> str:
    return _(HEALTH_LABELS[health]) if health in HEALTH_LABELS else health


def test_result_text(result: ConnectionTestResult, *, heading: str | None = None) -> str:
    """Every step with its outcome; the failed step says why (never a secret). What the
    registry said stays as it said it, inside the translated sentence."""
    heading = _("Connection test") if heading is None else heading
    if result.ok:
        lines = [
            _(":white_check_mark: *{heading} passed* ({ms} ms)").format(
                heading=heading, ms=number(round(result.latency_ms))
            )
        ]
    else:
        failed = result.failed_step
        where = _(" at *{step}*").format(step=step_label(failed.name)) if failed else ""
        kind = f" ({error_kind_words(result.error_kind.value)})" if result.error_kind else ""
        parts = split_failure(result.message)
        if parts is None:
            line = _(":x: *{heading} failed*{where}{kind}: {message}").format(
                heading=heading, where=where, kind=kind, message=mrkdwn(result.message)
            )
        else:
            # The bot's lead-in translated; what the registry said after it, as it said it.
            line = _(":x: *{heading} failed*{where}{kind}: {lead}: {reason}").format(
                heading=heading, where=where, kind=kind, lead=parts[0], reason=mrkdwn(parts[1])
            )
        lines = [line]
    for step in result.steps:
        label = step_label(step.name)
        if step.skipped:
            mark = ":heavy_minus_sign:"
        elif step.ok:
            mark = ":white_check_mark:"
        else:
            mark = ":x:"
        said = skipped_words(step.detail) if step.skipped else step.detail
        detail = f" — {mrkdwn(said)}" if said else ""
        lines.append(f"{mark} {label}{detail}")
    return clip_mrkdwn("\n".join(lines))


def url_check_text(url: str, result: UrlCheckResult) -> str:
    if result.ok:
        schemes = {
            "none": N_("no sign-in needed (anonymous access)"),
            "basic": N_("asks for a user name and password (Basic)"),
            "bearer": N_("uses token authentication (Bearer)"),
        }
        auth = result.auth_scheme or ""
        scheme = _(schemes[auth]) if auth in schemes else (auth or _("unknown sign-in"))
        realm = (
            _(", token service {realm}").format(realm=mrkdwn(result.realm)) if result.realm else ""
        )
        return clip_mrkdwn(
            _(":white_check_mark: *URL Check:* {url} is a registry: {scheme}{realm}. ").format(
                url=code(url), scheme=scheme, realm=realm
            )
            + mrkdwn(result.message)
        )
    kind = f" ({error_kind_words(result.error_kind.value)})" if result.error_kind else ""
    return clip_mrkdwn(
        _(":x: *URL Check failed*{kind}: {message}").format(
            kind=kind, message=mrkdwn(result.message)
        )
    )


def button_row(
    block_id: str, text: str, action_id: str, *, style: str | None = None
) -> ActionsBlock:
    """A row holding one button."""
    return ActionsBlock(
        block_id=block_id,
        elements=[ButtonElement(text=plain(text), action_id=action_id, style=style)],
    )


class SignedMetadata(Protocol):
    """What a form modal carries as its private_metadata, sealed by handlers.metadata (so
    its submission proves this app wrote it)."""

    def dump(self) -> str: ...


def form_modal(
    callback_id: str,
    meta: SignedMetadata,
    *,
    title: str,
    submit: str,
    blocks: list[Block],
    status: str | None = None,
) -> View:
    """A modal with a submit button and Cancel, carrying its signed `meta`; `status` (what
    is going on, what went wrong) is its last block when there is one."""
    if status:
        blocks = [*blocks, section(ids.B_STATUS, status)]
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(title, VIEW_TITLE_MAX),
        submit=plain(submit, VIEW_TITLE_MAX),
        close=plain(_("Cancel"), VIEW_TITLE_MAX),
        private_metadata=meta.dump(),
        blocks=blocks,
    )


def notice_view(title: str, text: str, *, callback_id: str = ids.VIEW_NOTICE) -> View:
    """A modal that only says something (a result, a refusal)."""
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(title, VIEW_TITLE_MAX),
        close=plain(_("Close"), VIEW_TITLE_MAX),
        blocks=[section(ids.B_STATUS, text)],
    )


def pager(
    *,
    page: int,
    pages: int,
    action_id: str,
    value_of: Callable[[int], str],
    block_id: str,
    summary_block_id: str,
    summary: str,
) -> list[Block]:
    """Previous / Next under a page of a list (the list of entries, the tools), with a
    summary line above them; nothing when everything fits on one page. A button's value
    is `value_of(the page it shows)`."""
    if pages <= 1:
        return []
    buttons = [
        ButtonElement(text=plain(text), action_id=f"{action_id}_{suffix}", value=value_of(to))
        for text, suffix, to, shown in (
            (_("Previous"), "prev", page - 1, page > 1),
            (_("Next"), "next", page + 1, page < pages),
        )
        if shown
    ]
    return [
        context(summary_block_id, summary),
        ActionsBlock(block_id=block_id, elements=buttons),
    ]
