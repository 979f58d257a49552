"""Publishing the App Home tab: a project select and that project's repository list."""

from __future__ import annotations

import logging

from bot.usecases import audit, home
from bot.usecases.errors import UseCaseError
from bot.usecases.permissions import Place
from handlers.context import Request
from handlers.ui.audit import with_recent_audit
from handlers.ui.repository_list import home_view

log = logging.getLogger("handlers.home")


async def publish_home(
    request: Request,
    *,
    project_id: int | None = None,
    page: int = 1,
    user_id: str | None = None,
    team_id: str | None = None,
) -> None:
    """The Home tab of the request's user (`user_id`, `team_id`: of an event, which names
    them elsewhere), showing `project_id` when they may see it."""
    rt = request.runtime
    team_id = team_id or request.team_id
    user_id = user_id or request.user_id
    actor = await request.deps.actors.get(request.client, team_id, user_id)
    projects = await home.team_projects(rt, actor)
    entries = [(p.id, p.name) for p in projects]
    known = {p.id for p in projects}
    selected = project_id if project_id in known else (projects[0].id if projects else None)
    listing = None
    if selected is not None:
        try:
            _, listing = await home.project_page(rt, actor, Place.home(), selected, page)
        except UseCaseError as error:
            log.info("home: %s", error.message)
    view = with_recent_audit(
        home_view(entries, selected, listing), await audit.recent_for_home(rt, actor)
    )
    await request.deps.views.publish(request.client, user_id, view)
