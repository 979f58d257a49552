"""Slash command listeners: `/imagerepo help | project ... | add | add-pull | list | check | tools`.

Every branch acks at once (Slack's 3 s), then works and answers through the
command's response_url (ephemeral: only the caller sees it) or opens a modal.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import alerts, checks, projects, repositories, tools
from bot.usecases.errors import TooSoon, UseCaseError
from bot.usecases.forms import Creation
from handlers.alerts import channel_problem
from handlers.audit import audit_command
from handlers.delivery import deliver_outbox
from handlers.deps import Deps
from handlers.guard import Listeners
from handlers.invocation import Invocation, Subcommand
from handlers.slack_calls import safe_call
from handlers.ui.alerts import invite_hint
from handlers.ui.common import code, mrkdwn, went_wrong
from handlers.ui.help import help_text
from handlers.ui.i18n import _, current_language, translate
from handlers.ui.repository_form import AddMeta, add_modal
from handlers.ui.repository_list import check_summary_text, list_blocks, list_text
from handlers.ui.tools import tools_blocks, tools_text
from registry import add_modal_type
from storage.enums import RepositoryAccess

log = logging.getLogger("handlers.commands")

USER_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


listeners = Listeners()


@listeners.command("/imagerepo")
async def imagerepo(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    deps: Deps,
) -> None:
    words = str(command.get("text") or "").split()
    sub = words[0].lower() if words else "help"
    handler = SUBCOMMANDS.get(sub)
    if sub == "help" or handler is None:
        # Answered in the ack, so the person's language is needed first: remembered for
        # an hour (handlers.actors), else the one users.info call the actor costs anyway.
        await deps.actors.language(
            client, str(command.get("team_id", "")), str(command.get("user_id", ""))
        )
    if sub == "help":
        await ack(text=help_text())
        return
    if handler is None:
        unknown = _("I don't know {words}.").format(words=code(" ".join(words), 100))
        await ack(text=f"{unknown}\n{help_text()}")
        return
    await ack()
    await deps.actors.language(
        client, str(command.get("team_id", "")), str(command.get("user_id", ""))
    )
    try:
        await handler(Invocation(deps, client, command, respond, words[1:]))
    except UseCaseError as error:
        await safe_call("respond", respond(text=mrkdwn(translate(error.message))))
    except Exception:
        reply = went_wrong()  # sets the request id the log line below carries
        log.exception("/imagerepo %s failed", sub)
        await safe_call("respond", respond(text=reply))


async def _project_cmd(call: Invocation) -> None:
    args = call.args
    if len(args) >= 2 and args[0].lower() == "create":
        await _create_project(call, " ".join(args[1:]))
    elif len(args) == 3 and args[0].lower() == "admin" and args[1].lower() in ("add", "remove"):
        await _change_admin(call, adding=args[1].lower() == "add", mention=args[2])
    elif len(args) == 2 and args[0].lower() == "language":
        await _set_language(call, args[1].lower())
    else:
        await call.answer(_("Usage:") + f"\n{help_text()}")


async def _create_project(call: Invocation, name: str) -> None:
    rt, actor, channel_id = call.runtime, await call.actor(), call.channel_id
    try:
        info = await projects.create_project(
            rt, actor, channel_id=channel_id, name=name, language=current_language()
        )
    except UseCaseError as error:
        await call.answer(mrkdwn(translate(error.message)))
        return
    text = _(
        "Project *{name}* now belongs to this channel; "
        "<@{user}> is its admin. Add repositories with "
        "`/imagerepo add` or `/imagerepo add-pull`."
    ).format(name=mrkdwn(info.name), user=actor.user_id)
    problem = await channel_problem(call.client, channel_id)
    await alerts.channel_state(rt, team_id=actor.team_id, channel_id=channel_id, error=problem)
    if problem is not None:
        text += "\n" + invite_hint()
    await call.answer(text)


async def _set_language(call: Invocation, language: str) -> None:
    """`project language ko|en`: the language of the project's channel messages."""
    changed = await projects.set_language(
        call.runtime, await call.actor(), channel_id=call.channel_id, language=language
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
    await call.answer(text)


async def _change_admin(call: Invocation, *, adding: bool, mention: str) -> None:
    match = USER_MENTION.match(mention)
    if match is None:
        await call.answer(_("Mention the user: `/imagerepo project admin add @someone`."))
        return
    user_id = match.group(1)
    change = projects.add_admin if adding else projects.remove_admin
    changed = await change(
        call.runtime, await call.actor(), channel_id=call.channel_id, user_id=user_id
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
    await call.answer(text.format(user=user_id))


async def open_add_modal(
    deps: Deps,
    client: AsyncWebClient,
    *,
    trigger_id: str,
    team_id: str,
    user_id: str,
    channel_id: str,
    access: RepositoryAccess,
) -> str | None:
    """Open the add modal; returns a message to show instead when there is no project."""
    rt = deps.runtime
    project = await projects.get_project(rt, team_id=team_id, channel_id=channel_id)
    actor = await deps.actors.get(client, team_id, user_id)
    registered = await tools.list_tools(rt, actor)
    default_type = add_modal_type(bool(registered))
    meta = AddMeta(
        access=access.value,
        channel_id=channel_id,
        registry_type=default_type.value,
        creation=Creation.EXISTING.value,
    )
    view = add_modal(
        meta,
        project_name=project.name,
        tools=registered,
        dockerhub_url=rt.settings.dockerhub_registry_url,
    )
    opened = await deps.views.open(client, trigger_id, view)
    if opened is None:
        return _("Slack did not open the window (it may have taken too long); try again.")
    return None


def _add_cmd(access: RepositoryAccess) -> Subcommand:
    """`add` and `add-pull`: the same modal, for app or pull-only repositories."""

    async def open_modal(call: Invocation) -> None:
        command = call.command
        problem = await open_add_modal(
            call.deps,
            call.client,
            trigger_id=str(command.get("trigger_id", "")),
            team_id=str(command.get("team_id", "")),
            user_id=str(command.get("user_id", "")),
            channel_id=call.channel_id,
            access=access,
        )
        if problem:
            await call.answer(problem)

    return open_modal


async def _list(call: Invocation) -> None:
    page = await repositories.list_repositories(
        call.runtime, await call.actor(), channel_id=call.channel_id, page=call.page()
    )
    await call.answer(
        list_text(page.project_name, page),
        blocks=list_blocks(page.project_id, page.project_name, page),
        response_type="ephemeral",
    )


async def _check(call: Invocation) -> None:
    rt, actor, channel_id = call.runtime, await call.actor(), call.channel_id
    try:
        ticket = await checks.start_check(rt, actor, channel_id=channel_id)
    except TooSoon as error:  # this person started one under a minute ago
        await call.answer(f":hourglass: {mrkdwn(translate(error.message))}")
        return
    name = mrkdwn(ticket.project_name)
    if ticket.joined:
        by = _("you") if ticket.started_by == actor.user_id else f"<@{mrkdwn(ticket.started_by)}>"
        await call.answer(
            _(
                "A check of every repository of *{name}* (started by {by}) is running: its "
                "summary follows."
            ).format(name=name, by=by)
        )
    else:
        await call.answer(_("Testing every repository of *{name}*…").format(name=name))
    try:
        summary = await ticket.summary()
    except UseCaseError as error:  # e.g. a saved secret no configured key decrypts
        await call.answer(f":x: {mrkdwn(translate(error.message))}")
        return
    await deliver_outbox(rt)
    await call.answer(check_summary_text(summary))


async def _tools(call: Invocation) -> None:
    actor = await call.actor()
    page = await tools.tools_page(call.runtime, actor)
    await call.answer(tools_text(page), blocks=tools_blocks(page, is_admin=tools.may_manage(actor)))


SUBCOMMANDS: dict[str, Subcommand] = {
    "project": _project_cmd,
    "add": _add_cmd(RepositoryAccess.APP),
    "add-pull": _add_cmd(RepositoryAccess.PULL_ONLY),
    "list": _list,
    "check": _check,
    "tools": _tools,
    "audit": audit_command,
}
