"""The register-tool modal's `Tool type` select: reshape the form for the chosen kind
(URL label, account or API token, as its `registry.kinds.ToolKind` row says). Its own
module so the tools' other listeners stay as they are."""

from __future__ import annotations

from bot.usecases import tools
from bot.usecases.errors import UseCaseError
from handlers import ids, metadata
from handlers.context import Request
from handlers.guard import Listeners
from handlers.payload import first_action
from handlers.ui.common import mrkdwn, notice_view
from handlers.ui.tools import ToolMeta, tool_modal
from registry import is_tool_kind

listeners = Listeners()


@listeners.action(ids.A_TOOL_KIND)
async def tool_kind_chosen(request: Request) -> None:
    await request.ack()
    view = request.view
    try:
        if ToolMeta.load(str(view.get("private_metadata") or "")).tool_id:
            return  # an edit modal has no Tool type: the kind of a tool never changes
    except ValueError:
        await request.update(notice_view("Registered tools", metadata.FORGED))
        return
    chosen = first_action(request.body).get("selected_option")
    kind = chosen.get("value") if isinstance(chosen, dict) else None
    if not is_tool_kind(kind):
        return
    try:
        await tools.start_registration(request.runtime, await request.actor())
    except UseCaseError as error:
        await request.update(notice_view("Registered tools", mrkdwn(error.message)))
        return
    await request.update(
        tool_modal(None, kind=str(kind)),
        hash=str(view.get("hash") or "") or None,
        current=view,
    )
