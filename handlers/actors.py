"""Who is acting: `Actor(team, user, is_workspace_admin, name)` from users.info, cached briefly.

Whether that actor may do something is decided by bot.usecases.permissions, not here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases.actor import Actor
from handlers.slack_calls import slack_error_code

log = logging.getLogger("handlers")

ACTOR_TTL = 60.0  # seconds a users.info answer is trusted


class Actors:
    """`Actor(team, user, is_workspace_admin)` from users.info, cached briefly."""

    def __init__(self, ttl: float = ACTOR_TTL) -> None:
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool, str]] = {}

    async def get(self, client: AsyncWebClient, team_id: str, user_id: str) -> Actor:
        if not user_id:  # only a forged payload names no user; Slack refuses users.info ""
            return Actor(team_id, user_id, False)
        key = (team_id, user_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return Actor(team_id, user_id, cached[1], cached[2])
        is_admin = False
        name = ""
        try:
            response = await client.users_info(user=user_id)
            user = response.get("user") or {}
            is_admin = bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            )
            name = _display_name(user)
            self._cache[key] = (now + self.ttl, is_admin, name)
        except SlackApiError as error:
            log.warning(
                "users.info failed (%s); treating the user as a member", slack_error_code(error)
            )
        except Exception as error:
            log.warning(
                "users.info failed (%s); treating the user as a member", type(error).__name__
            )
        if len(self._cache) > 10000:
            self._cache.clear()
        return Actor(team_id, user_id, is_admin, name)


def _display_name(user: Mapping[str, Any]) -> str:
    """The name people see: the profile's display name, else the real name, else the handle."""
    profile = user.get("profile") or {}
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("name")):
        if value:
            return str(value)[:255]
    return ""
