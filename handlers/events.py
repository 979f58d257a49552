"""Events API listeners: the App Home tab."""

from __future__ import annotations

from collections.abc import Mapping

from handlers.context import Request
from handlers.guard import Listeners
from handlers.home import publish_home
from handlers.ui.repository_list import home_project

listeners = Listeners()


@listeners.event("app_home_opened")
async def home_opened(request: Request) -> None:
    event = request.body.get("event")
    if not isinstance(event, Mapping) or event.get("tab", "home") != "home":
        return
    previous = event.get("view") or {}
    await publish_home(
        request,
        project_id=home_project(str(previous.get("private_metadata") or "")),
        user_id=str(event.get("user", "")),
        team_id=str(request.body.get("team_id", "")),
    )
