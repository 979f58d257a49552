"""The register-tool modal's `Tool type` select: reshape the form for the chosen kind
(URL label, account or API token, as its `registry.kinds.ToolKind` row says). Its own
module so the tools' other listeners stay as they are."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import tools
from bot.usecases.errors import UseCaseError
from handlers import ids, metadata
from handlers.deps import Deps
from handlers.guard import Listeners
from handlers.ui.common import mrkdwn, notice_view
from handlers.ui.tools import ToolMeta, tool_modal
from registry import is_tool_kind

listeners = Listeners()


@listeners.action(ids.A_TOOL_KIND)
async def tool_kind_chosen(
    ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    await ack()
    view = body.get("view") or {}
    try:
        if ToolMeta.load(str(view.get("private_metadata") or "")).tool_id:
            return  # an edit modal has no Tool type: the kind of a tool never changes
    except ValueError:
        await deps.views.update(
            client, str(view.get("id")), notice_view("Registered tools", metadata.FORGED)
        )
        return
    actions = body.get("actions") or [{}]
    chosen = actions[0].get("selected_option") if isinstance(actions[0], dict) else None
    kind = chosen.get("value") if isinstance(chosen, dict) else None
    if not is_tool_kind(kind):
        return
    actor = await deps.actor(client, body)
    try:
        await tools.start_registration(deps.runtime, actor)
    except UseCaseError as error:
        await deps.views.update(
            client, str(view.get("id")), notice_view("Registered tools", mrkdwn(error.message))
        )
        return
    await deps.views.update(
        client,
        str(view.get("id")),
        tool_modal(None, kind=str(kind)),
        hash=str(view.get("hash") or "") or None,
        current=view,
    )
