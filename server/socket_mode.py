"""Socket Mode (SLACK_APP_TOKEN set): Bolt's handler, told to stop when Slack refuses the token.

slack_sdk's client retries every failure forever, a traceback every ping interval,
including `invalid_auth` for a revoked app-level token. Here a refusal from
`apps.connections.open` (docs.slack.dev/reference/methods/apps.connections.open)
ends the reconnect loop with one log line naming SLACK_APP_TOKEN, and `connected()`
lets /healthz answer 503 for as long as no WebSocket is open.
"""

from __future__ import annotations

import asyncio
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from server.preflight import refused

log = logging.getLogger(__name__)


class _OneLine(logging.Filter):
    """slack_sdk logs every failed reconnect with its traceback (every ping interval while
    Slack is unreachable): the message alone says what happened. Once Slack refused the
    token, its own reports of that refusal are dropped: the line below says it all."""

    def __init__(self) -> None:
        super().__init__()
        self.silenced = False

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return not self.silenced


SDK_LOG = logging.getLogger("slack_sdk.socket_mode")
_SDK_FILTER = _OneLine()
SDK_LOG.addFilter(_SDK_FILTER)


class _Client(SocketModeClient):
    """Stops reconnecting once Slack refuses the app-level token."""

    refusal: str | None = None

    async def issue_new_wss_url(self) -> str:
        """slack_sdk's own, but a refusal stops every reconnect path (the receiver's and
        the session monitor's) instead of being retried every ping interval."""
        if self.refusal is not None:
            raise AppTokenRefused(self.refusal)
        while True:
            try:
                response = await self.web_client.apps_connections_open(app_token=self.app_token)
                return str(response["url"])
            except SlackApiError as error:
                if error.response.get("error") == "ratelimited":
                    # Tier 1; slack_sdk waits Retry-After too.
                    await asyncio.sleep(int(error.response.headers.get("Retry-After", "30")))
                    continue
                code = refused(error)
                if code is None:
                    raise
                self.refusal = code
                self.closed = True  # connect() returns instead of retrying
                self.auto_reconnect_enabled = self.default_auto_reconnect_enabled = False
                _SDK_FILTER.silenced = True
                log.error(
                    "SLACK_APP_TOKEN was refused by Slack (apps.connections.open: %s): "
                    "Socket Mode stopped; /healthz answers 503 until the bot is restarted "
                    "with a valid App-Level Token (xapp-...)",
                    code,
                )
                raise AppTokenRefused(code) from None


class AppTokenRefused(Exception):
    """Slack refused SLACK_APP_TOKEN; already logged."""


class SocketMode(AsyncSocketModeHandler):
    """Bolt's aiohttp handler with the client above (its constructor, otherwise unchanged)."""

    client: _Client

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self.app = app
        self.app_token = app_token
        self.client = _Client(
            app_token=app_token,
            logger=SDK_LOG,
            web_client=app.client,
            ping_interval=10,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    async def connected(self) -> bool:
        return bool(await self.client.is_connected())
