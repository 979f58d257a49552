"""`/imagerepo audit [PAGE]`: the channel's project's audit trail, for its admins only,
as an ephemeral message with Previous / Next."""

from __future__ import annotations

import re

from bot.usecases import audit
from bot.usecases.errors import UseCaseError
from handlers.context import Request
from handlers.guard import Listeners
from handlers.payload import action_row_id, page_arg
from handlers.ui.audit import audit_blocks, audit_text
from handlers.ui.common import mrkdwn

listeners = Listeners()


async def audit_command(request: Request, args: list[str]) -> None:
    """The subcommand (registered in handlers.commands' table); refusals come back as text."""
    await _show_trail(request, page_arg(args))


@listeners.action(re.compile(r"^audit_page_(prev|next)$"))
async def audit_page(request: Request) -> None:
    await request.ack()
    page = action_row_id(request.body) or 1
    try:
        await _show_trail(request, page, replace=True)
    except UseCaseError as error:
        await request.answer(mrkdwn(error.message), replace_original=False)


async def _show_trail(request: Request, page: int, *, replace: bool = False) -> None:
    """One page of the trail, ephemeral (replacing the page shown, for Previous / Next)."""
    trail = await audit.project_trail(
        request.runtime, await request.actor(), channel_id=request.channel_id, page=page
    )
    await request.answer(
        audit_text(trail),
        blocks=audit_blocks(trail),
        response_type="ephemeral",
        replace_original=True if replace else None,
    )
