"""`/imagerepo audit [PAGE]`: the channel's project's audit trail, for its admins only,
as an ephemeral message with Previous / Next."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import audit
from bot.usecases.errors import UseCaseError
from handlers.deps import Deps
from handlers.guard import Listeners
from handlers.invocation import Invocation
from handlers.payload import action_row_id, channel_of
from handlers.slack_calls import safe_call
from handlers.ui.audit import audit_blocks, audit_text
from handlers.ui.common import mrkdwn

listeners = Listeners()


async def audit_command(call: Invocation) -> None:
    """The subcommand (registered in handlers.commands' table); refusals come back as text."""
    await _show_trail(
        call.deps, call.client, call.command, call.respond, call.channel_id, call.page()
    )


@listeners.action(re.compile(r"^audit_page_(prev|next)$"))
async def audit_page(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond, deps: Deps
) -> None:
    await ack()
    page = action_row_id(body) or 1
    try:
        await _show_trail(deps, client, body, respond, channel_of(body) or "", page, replace=True)
    except UseCaseError as error:
        await safe_call("respond", respond(text=mrkdwn(error.message), replace_original=False))


async def _show_trail(
    deps: Deps,
    client: AsyncWebClient,
    body: dict[str, Any],
    respond: AsyncRespond,
    channel_id: str,
    page: int,
    *,
    replace: bool = False,
) -> None:
    """One page of the trail, ephemeral (replacing the page shown, for Previous / Next)."""
    actor = await deps.actor(client, body)
    trail = await audit.project_trail(deps.runtime, actor, channel_id=channel_id, page=page)
    await safe_call(
        "respond",
        respond(
            text=audit_text(trail),
            blocks=audit_blocks(trail),
            response_type="ephemeral",
            replace_original=True if replace else None,
        ),
    )
