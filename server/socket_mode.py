"""Socket Mode (SLACK_APP_TOKEN set): Bolt's handler, told to stop when Slack refuses the token.

slack_sdk's client retries every failure forever, a traceback every ping interval,
including `invalid_auth` for a revoked app-level token. Here a refusal from
`apps.connections.open` (docs.slack.dev/reference/methods/apps.connections.open)
ends the reconnect loop with one log line naming SLACK_APP_TOKEN, and `connected()`
lets /healthz answer 503 for as long as no WebSocket is open.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from server.preflight import refused

log = logging.getLogger(__name__)


class _Client(SocketModeClient):
    """Stops reconnecting once Slack refuses the app-level token."""

    refusal: str | None = None

    async def issue_new_wss_url(self) -> str:
        try:
            url: str = await super().issue_new_wss_url()
        except SlackApiError as error:
            code = refused(error)
            if code is not None:
                self.refusal = code
                self.closed = True  # connect() returns instead of retrying
                log.error(
                    "SLACK_APP_TOKEN was refused by Slack (apps.connections.open: %s): "
                    "Socket Mode stopped; /healthz answers 503 until the bot is restarted "
                    "with a valid App-Level Token (xapp-...)",
                    code,
                )
            raise
        return url


class SocketMode(AsyncSocketModeHandler):
    """Bolt's aiohttp handler with the client above (its constructor, otherwise unchanged)."""

    client: _Client

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        self.app = app
        self.app_token = app_token
        self.client = _Client(
            app_token=app_token,
            logger=logging.getLogger("slack_sdk.socket_mode"),
            web_client=app.client,
            ping_interval=10,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    async def connected(self) -> bool:
        return bool(await self.client.is_connected())
