"""Slash command listeners: `/imagerepo help | project ... | add | add-pull | list | check | tools`.

Every branch acks at once (Slack's 3 s), then works and answers through the
command's response_url (ephemeral: only the caller sees it) or opens a modal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from bot.usecases import alerts, checks, projects, repositories, tools
from bot.usecases.errors import TooSoon, UseCaseError
from bot.usecases.forms import Creation
from handlers import add_flow
from handlers.alerts import channel_problem
from handlers.audit import audit_command
from handlers.context import Request
from handlers.delivery import deliver_outbox
from handlers.guard import Listeners
from handlers.payload import page_arg
from handlers.ui.alerts import invite_hint
from handlers.ui.common import code, mrkdwn, went_wrong
from handlers.ui.help import help_text
from handlers.ui.i18n import _, current_language, translate
from handlers.ui.repository_form import AddMeta
from handlers.ui.repository_list import check_summary_text, list_blocks, list_text
from handlers.ui.tools import tools_blocks, tools_text
from registry import add_modal_type
from storage.enums import RepositoryAccess

log = logging.getLogger("handlers.commands")

USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


listeners = Listeners()


# A subcommand: `(request, the words typed after it)`.
Subcommand = Callable[[Request, list[str]], Awaitable[None]]


@listeners.command("/imagerepo")
async def imagerepo(request: Request) -> None:
    words = str(request.body.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    handler = SUBCOMMANDS.get(sub)
    if sub == "help" or handler is None:
        # Answered in the ack, so the person's language is needed first: remembered for
        # an hour (handlers.actors), else the one users.info call the actor costs anyway.
        await request.deps.actors.language(request.client, request.team_id, request.user_id)
    if sub == "help":
        await request.ack(text=help_text())
        return
    if handler is None:
        unknown = _("I don't know {words}.").format(words=code(" ".join(words), 100))
        await request.ack(text=f"{unknown}\n{help_text()}")
        return
    await request.ack()
    await request.deps.actors.language(request.client, request.team_id, request.user_id)
    try:
        await handler(request, words[1:])
    except UseCaseError as error:
        await request.answer(mrkdwn(translate(error.message)))
    # A subcommand's boundary: the guard can only log what escapes once Slack has its
    # ack, while the person waits for an answer on the response_url.
    except Exception:
        reply = went_wrong()  # sets the request id the log line below carries
        log.exception("/imagerepo %s failed", sub)
        await request.answer(reply)


async def _project_cmd(request: Request, args: list[str]) -> None:
    if len(args) >= 2 and args[0].lower() == "create":
        await _create_project(request, " ".join(args[1:]))
    elif len(args) == 3 and args[0].lower() == "admin" and args[1].lower() in ("add", "remove"):
        await _change_admin(request, adding=args[1].lower() == "add", mention=args[2])
    elif len(args) == 2 and args[0].lower() == "language":
        await _set_language(request, args[1].lower())
    else:
        await request.answer(_("Usage:") + f"\n{help_text()}")


async def _create_project(request: Request, name: str) -> None:
    rt, actor, channel_id = request.runtime, await request.actor(), request.channel_id
    try:
        info = await projects.create_project(
            rt, actor, channel_id=channel_id, name=name, language=current_language()
        )
    except UseCaseError as error:
        await request.answer(mrkdwn(translate(error.message)))
        return
    text = _(
        "Project *{name}* now belongs to this channel; "
        "<@{user}> is its admin. Add repositories with "
        "`/imagerepo add` or `/imagerepo add-pull`."
    ).format(name=mrkdwn(info.name), user=actor.user_id)
    problem = await channel_problem(request.client, channel_id)
    await alerts.channel_state(rt, team_id=actor.team_id, channel_id=channel_id, error=problem)
    if problem is not None:
        text += "\n" + invite_hint()
    await request.answer(text)


async def _set_language(request: Request, language: str) -> None:
    """`project language ko|en`: the language of the project's channel messages."""
    changed = await projects.set_language(
        request.runtime, await request.actor(), channel_id=request.channel_id, language=language
    )
    if language == "ko":
        text = (
            _("This project's channel messages are now in Korean.")
            if changed
            else _("This project's channel messages were in Korean already.")
        )
    else:
        text = (
            _("This project's channel messages are now in English.")
            if changed
            else _("This project's channel messages were in English already.")
        )
    await request.answer(text)


async def _change_admin(request: Request, *, adding: bool, mention: str) -> None:
    match = USER_MENTION.match(mention)
    if match is None:
        await request.answer(_("Mention the user: `/imagerepo project admin add @someone`."))
        return
    user_id = match.group(1)
    change = projects.add_admin if adding else projects.remove_admin
    changed = await change(
        request.runtime, await request.actor(), channel_id=request.channel_id, user_id=user_id
    )
    if adding:
        text = (
            _("<@{user}> is now an admin of this project.")
            if changed
            else _("<@{user}> was an admin already.")
        )
    else:
        text = (
            _("<@{user}> is no longer an admin of this project.")
            if changed
            else _("<@{user}> was not an admin of this project.")
        )
    await request.answer(text.format(user=user_id))


async def open_add_modal(request: Request, access: RepositoryAccess) -> str | None:
    """Open the add modal; returns a message to show instead when there is no project."""
    channel_id = request.channel_id
    ctx = await add_flow.load_context(request.runtime, await request.actor(), channel_id)
    registered = ctx.tools
    default_type = add_modal_type(bool(registered))
    meta = AddMeta(
        access=access.value,
        channel_id=channel_id,
        registry_type=default_type.value,
        creation=Creation.EXISTING.value,
    )
    opened = await request.open(ctx.build(meta))
    if opened is None:
        return _("Slack did not open the window (it may have taken too long); try again.")
    return None


def _add_cmd(access: RepositoryAccess) -> Subcommand:
    """`add` and `add-pull`: the same modal, for app or pull-only repositories."""

    async def open_modal(request: Request, args: list[str]) -> None:
        problem = await open_add_modal(request, access)
        if problem:
            await request.answer(problem)

    return open_modal


async def _list(request: Request, args: list[str]) -> None:
    page = await repositories.list_repositories(
        request.runtime, await request.actor(), channel_id=request.channel_id, page=page_arg(args)
    )
    await request.answer(
        list_text(page.project_name, page),
        blocks=list_blocks(page.project_id, page.project_name, page),
        response_type="ephemeral",
    )


async def _check(request: Request, args: list[str]) -> None:
    rt, actor, channel_id = request.runtime, await request.actor(), request.channel_id
    try:
        ticket = await checks.start_check(rt, actor, channel_id=channel_id)
    except TooSoon as error:  # this person started one under a minute ago
        await request.answer(f":hourglass: {mrkdwn(translate(error.message))}")
        return
    name = mrkdwn(ticket.project_name)
    if ticket.joined:
        by = _("you") if ticket.started_by == actor.user_id else f"<@{mrkdwn(ticket.started_by)}>"
        await request.answer(
            _(
                "A check of every repository of *{name}* (started by {by}) is running: its "
                "summary follows."
            ).format(name=name, by=by)
        )
    else:
        await request.answer(_("Testing every repository of *{name}*…").format(name=name))
    try:
        summary = await ticket.summary()
    except UseCaseError as error:  # e.g. a saved secret no configured key decrypts
        await request.answer(f":x: {mrkdwn(translate(error.message))}")
        return
    await deliver_outbox(rt)
    await request.answer(check_summary_text(summary))


async def _tools(request: Request, args: list[str]) -> None:
    actor = await request.actor()
    page = await tools.tools_page(request.runtime, actor)
    await request.answer(
        tools_text(page), blocks=tools_blocks(page, is_admin=tools.may_manage(actor))
    )


SUBCOMMANDS: dict[str, Subcommand] = {
    "project": _project_cmd,
    "add": _add_cmd(RepositoryAccess.APP),
    "add-pull": _add_cmd(RepositoryAccess.PULL_ONLY),
    "list": _list,
    "check": _check,
    "tools": _tools,
    "audit": audit_command,
}
