"""`/imagerepo audit [PAGE]`: the channel's project's audit trail, for its admins only,
as an ephemeral message with Previous / Next."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import audit
from bot.usecases.errors import UseCaseError
from handlers.support import Deps, channel_of, guarded, row_id, safe_call
from handlers.ui.audit import audit_blocks, audit_text


async def audit_command(
    deps: Deps,
    client: AsyncWebClient,
    command: dict[str, Any],
    respond: AsyncRespond,
    args: list[str],
) -> None:
    """The subcommand (registered in handlers.commands' table); refusals come back as text."""
    actor = await deps.actor(client, command)
    page = (row_id(args[0]) if args else None) or 1
    channel_id = str(command.get("channel_id", ""))
    trail = await audit.project_trail(deps.runtime, actor, channel_id=channel_id, page=page)
    await safe_call(
        "respond",
        respond(text=audit_text(trail), blocks=audit_blocks(trail), response_type="ephemeral"),
    )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(re.compile(r"^audit_page_(prev|next)$"))
    @guarded
    async def audit_page(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        page = row_id(str(actions[0].get("value") or "")) or 1
        actor = await deps.actor(client, body)
        try:
            trail = await audit.project_trail(
                deps.runtime, actor, channel_id=channel_of(body) or "", page=page
            )
        except UseCaseError as error:
            await safe_call("respond", respond(text=error.message, replace_original=False))
            return
        await safe_call(
            "respond",
            respond(
                text=audit_text(trail),
                blocks=audit_blocks(trail),
                replace_original=True,
                response_type="ephemeral",
            ),
        )
