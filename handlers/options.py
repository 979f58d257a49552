"""block_suggestion listeners: options of external selects (Harbor projects)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import tools
from handlers import ids
from handlers.add_flow import meta_of
from handlers.deps import Deps
from handlers.guard import Listeners
from handlers.payload import selected_value
from handlers.ui.repository_form import harbor_project_options

log = logging.getLogger("handlers.options")
SUGGEST_TIMEOUT = 2.5  # Slack waits 3 s for the options


listeners = Listeners()


@listeners.options(ids.A_HARBOR_PROJECT)
async def harbor_projects(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    view = body.get("view") or {}
    tool_value = selected_value(view, ids.B_TOOL, ids.A_TOOL)
    if not tool_value or not tool_value.isdigit():
        await ack(options=[])
        return
    query = str(body.get("value") or "").strip()[:100]
    meta = meta_of(view)  # the modal's channel: only its project's grants are listed
    try:
        actor = await deps.actor(client, body)
        names = await asyncio.wait_for(
            tools.harbor_projects(
                deps.runtime,
                actor,
                int(tool_value),
                query,
                channel_id=meta.channel_id if meta is not None else None,
            ),
            SUGGEST_TIMEOUT,
        )
    except Exception as error:
        log.warning("Harbor project suggestions failed: %s", type(error).__name__)
        names = []
    await ack(options=harbor_project_options(names))
