"""Publishing the App Home tab: a project select and that project's repository list."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import audit, home
from bot.usecases.errors import UseCaseError
from bot.usecases.permissions import Place
from handlers.deps import Deps
from handlers.payload import team_of, user_of
from handlers.ui.audit import with_recent_audit
from handlers.ui.repository_list import home_view

log = logging.getLogger("handlers.home")


async def publish_home(
    deps: Deps,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    *,
    project_id: int | None = None,
    page: int = 1,
    user_id: str | None = None,
    team_id: str | None = None,
) -> None:
    rt = deps.runtime
    team_id = team_id or team_of(body)
    user_id = user_id or user_of(body)
    actor = await deps.actors.get(client, team_id, user_id)
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
    await deps.views.publish(client, user_id, view)
