"""block_suggestion listeners: options of external selects (a tool's namespaces; registered
tools and Home's projects once there are more than a static select's 100).

Each answer holds at most 100 options, filtered by what the user typed (Slack shows
none of a longer answer)."""

from __future__ import annotations

import asyncio
import logging

from bot.usecases import home, tools
from bot.usecases.errors import UseCaseError
from handlers import ids
from handlers.add_flow import meta_of
from handlers.context import Request
from handlers.guard import Listeners
from handlers.payload import selected_value
from handlers.ui.repository_form import harbor_project_options, tool_options, tools_of_type
from handlers.ui.repository_list import project_options
from registry import RegistryError
from storage.db import DB_ERRORS

log = logging.getLogger("handlers.options")
SUGGEST_TIMEOUT = 2.5  # Slack waits 3 s for the options
# Why a list of options may be empty: too slow, refused, the database or the registry
# failed (the actor's users.info never raises: handlers.actors).
SUGGESTION_ERRORS: tuple[type[Exception], ...] = (
    TimeoutError,
    UseCaseError,
    RegistryError,
    *DB_ERRORS,
)


listeners = Listeners()


@listeners.options(ids.A_HARBOR_PROJECT)
async def harbor_projects(request: Request) -> None:
    body = request.body
    view = body.get("view") or {}
    tool_value = selected_value(view, ids.B_TOOL, ids.A_TOOL)
    if not tool_value or not tool_value.isdigit():
        await request.ack(options=[])
        return
    query = str(body.get("value") or "").strip()[:100]
    meta = meta_of(view)  # the modal's channel: only its project's grants are listed
    try:
        actor = await request.actor()
        names = await asyncio.wait_for(
            tools.namespace_choices(
                request.runtime,
                actor,
                int(tool_value),
                query,
                channel_id=meta.channel_id if meta is not None else None,
            ),
            SUGGEST_TIMEOUT,
        )
    except SUGGESTION_ERRORS as error:
        log.warning("namespace suggestions failed: %s", type(error).__name__)
        names = []
    await request.ack(options=harbor_project_options(names))


@listeners.options(ids.A_TOOL)
async def registered_tools(request: Request) -> None:
    """The add modal's tool select beyond 100 tools of a kind: those matching the text."""
    view = request.view
    meta = meta_of(view)
    if meta is None:
        await request.ack(options=[])
        return
    registry_type = selected_value(view, ids.B_TYPE, ids.A_TYPE) or meta.registry_type
    query = str(request.body.get("value") or "")[:100]
    try:
        actor = await request.actor()
        registered = await asyncio.wait_for(
            tools.list_tools(request.runtime, actor), SUGGEST_TIMEOUT
        )
        options = tool_options(tools_of_type(registered, registry_type), query)
    except SUGGESTION_ERRORS as error:
        log.warning("tool suggestions failed: %s", type(error).__name__)
        options = []
    await request.ack(options=options)


@listeners.options(ids.A_HOME_PROJECT)
async def home_projects(request: Request) -> None:
    """Home's project select beyond 100 projects: the ones this user may see, by the text."""
    query = str(request.body.get("value") or "")[:100]
    try:
        actor = await request.actor()
        entries = await asyncio.wait_for(
            home.team_projects(request.runtime, actor), SUGGEST_TIMEOUT
        )
        options = project_options([(p.id, p.name) for p in entries], query)
    except SUGGESTION_ERRORS as error:
        log.warning("project suggestions failed: %s", type(error).__name__)
        options = []
    await request.ack(options=options)
