"""Who is acting: `Actor(team, user, is_workspace_admin, name)` from users.info, cached briefly.

Whether that actor may do something is decided by bot.usecases.permissions, not here.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases.actor import Actor
from handlers.slack_calls import SLACK_CALL_ERRORS, slack_error_code
from handlers.ui.i18n import current_language, language_of, set_language

log = logging.getLogger("handlers")

ACTOR_TTL = 60.0  # seconds a users.info answer is trusted
LOCALE_TTL = 3600.0  # a person's language rarely changes: an hour
LOCALE_MAX = 10_000  # people whose language is remembered (least recently used go first)


class Actors:
    """`Actor(team, user, is_workspace_admin)` from users.info, cached briefly; the same
    call (`include_locale=true`) gives the person's language and time zone, kept longer.

    `get` also makes that language the request's (handlers.ui.i18n), so whatever the
    listener builds after knowing who acts is in their language, at no extra call.
    """

    def __init__(self, ttl: float = ACTOR_TTL, locale_ttl: float = LOCALE_TTL) -> None:
        self.ttl = ttl
        self.locale_ttl = locale_ttl
        self._cache: dict[tuple[str, str], tuple[float, bool, str]] = {}
        self._locales: OrderedDict[tuple[str, str], tuple[float, str, str]] = OrderedDict()

    def known_language(self, team_id: str, user_id: str) -> bool:
        """Make a remembered language the request's; False when it must be asked (users.info)."""
        key = (team_id, user_id)
        cached = self._locales.get(key)
        if cached is None or cached[0] <= time.monotonic():
            return False
        self._locales.move_to_end(key)
        set_language(cached[1], cached[2])
        return True

    def _remember_language(self, key: tuple[str, str], user: Mapping[str, Any]) -> None:
        language = language_of(str(user.get("locale") or ""))
        time_zone = str(user.get("tz") or "UTC")
        self._locales[key] = (time.monotonic() + self.locale_ttl, language, time_zone)
        self._locales.move_to_end(key)
        while len(self._locales) > LOCALE_MAX:
            self._locales.popitem(last=False)
        set_language(language, time_zone)

    async def language(self, client: AsyncWebClient, team_id: str, user_id: str) -> str:
        """The person's language, made the request's: remembered, else from users.info."""
        if not self.known_language(team_id, user_id):
            await self.get(client, team_id, user_id)
        return current_language()

    async def get(self, client: AsyncWebClient, team_id: str, user_id: str) -> Actor:
        if not user_id:  # only a forged payload names no user; Slack refuses users.info ""
            return Actor(team_id, user_id, False)
        key = (team_id, user_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            self.known_language(team_id, user_id)
            return Actor(team_id, user_id, cached[1], cached[2])
        is_admin = False
        name = ""
        try:
            response = await client.users_info(user=user_id, include_locale=True)
            user = response.get("user") or {}
            is_admin = bool(
                user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")
            )
            name = _display_name(user)
            self._cache[key] = (now + self.ttl, is_admin, name)
            self._remember_language(key, user)
        except SlackApiError as error:
            log.warning(
                "users.info failed (%s); treating the user as a member", slack_error_code(error)
            )
        except SLACK_CALL_ERRORS as error:
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
