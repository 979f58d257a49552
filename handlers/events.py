"""Events API listeners: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers.deps import Deps
from handlers.guard import Listeners
from handlers.home import publish_home
from handlers.ui.repository_list import home_project

listeners = Listeners()


@listeners.event("app_home_opened")
async def home_opened(
    event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    if event.get("tab", "home") != "home":
        return
    previous = event.get("view") or {}
    await publish_home(
        deps,
        client,
        body,
        project_id=home_project(str(previous.get("private_metadata") or "")),
        user_id=str(event.get("user", "")),
        team_id=str(body.get("team_id", "")),
    )
