"""Before `serve` listens: does Slack accept the tokens it was given?

A revoked or mistyped token used to start cleanly, answer /healthz and fail only at
the first user's request, deep in the log. Here Slack is asked once, at start:
`auth.test` for SLACK_BOT_TOKEN (docs.slack.dev/reference/methods/auth.test: errors
`not_authed`, `invalid_auth`, `account_inactive`, `token_revoked`, `token_expired`...)
and, in Socket Mode, `apps.connections.open` for SLACK_APP_TOKEN
(docs.slack.dev/reference/methods/apps.connections.open). A refusal stops the process
with one line naming the variable; Slack being unreachable or having a bad moment is
only a warning (the bot must come back by itself after an outage).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

log = logging.getLogger(__name__)

# Slack's answers that say "try again later" rather than "this token is wrong"
# (docs.slack.dev, "Web API": errors common to every method).
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
TIMEOUT_SECONDS = 10


class SlackRefused(Exception):
    """Slack refused a token; the message names the variable and the fix."""


@dataclass(frozen=True)
class Identity:
    """Who the bot token is, for the start-up summary."""

    team: str
    user: str


def refused(error: SlackApiError) -> str | None:
    """Slack's error code when it is a refusal (not a transient failure), else None."""
    code = error.response.get("error") if error.response is not None else None
    if not isinstance(code, str) or not code or code in TRANSIENT_ERRORS:
        return None
    if error.response is not None and error.response.status_code >= 500:
        return None
    return code


async def check_tokens(settings: Settings) -> Identity | None:
    """Raise SlackRefused when Slack refuses a token; the bot's identity when it accepts
    it; None when Slack could not be asked (logged as a warning)."""
    token, _ = settings.require_slack_credentials()
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=TIMEOUT_SECONDS)
    try:
        answer = await client.auth_test()
    except SlackApiError as error:
        code = refused(error)
        if code is None:
            _unreachable("SLACK_BOT_TOKEN", settings, repr(error.response.get("error")))
            return None
        raise SlackRefused(
            f"SLACK_BOT_TOKEN was refused by Slack (auth.test: {code}): copy the Bot User "
            "OAuth Token (xoxb-...) from the app's OAuth & Permissions page; if the app was "
            "uninstalled or the token revoked, reinstall the app to the workspace first"
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        _unreachable("SLACK_BOT_TOKEN", settings, type(error).__name__)
        return None
    identity = Identity(team=str(answer.get("team") or ""), user=str(answer.get("user") or ""))
    if settings.slack_app_token is not None:
        await _check_app_token(client, settings)
    return identity


async def _check_app_token(client: AsyncWebClient, settings: Settings) -> None:
    """The WebSocket URL it returns is not used: the Socket Mode client asks for its own."""
    try:
        await client.apps_connections_open(app_token=settings.slack_app_token or "")
    except SlackApiError as error:
        code = refused(error)
        if code is None:
            _unreachable("SLACK_APP_TOKEN", settings, repr(error.response.get("error")))
            return
        raise SlackRefused(
            f"SLACK_APP_TOKEN was refused by Slack (apps.connections.open: {code}): use an "
            "App-Level Token (xapp-...) with the connections:write scope from the app's Basic "
            "Information page, and turn Socket Mode on; unset SLACK_APP_TOKEN to receive "
            "requests over HTTP instead"
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        _unreachable("SLACK_APP_TOKEN", settings, type(error).__name__)


def _unreachable(variable: str, settings: Settings, why: str) -> None:
    log.warning(
        "could not ask Slack at %s whether %s is valid (%s); starting anyway",
        settings.slack_api_url,
        variable,
        why,
    )


def run_checks(settings: Settings) -> Identity | None:
    """check_tokens in its own short-lived event loop, before uvicorn starts its own."""
    return asyncio.run(check_tokens(settings))
