"""Listeners for the alert's actions and for the bot joining a channel.

- `Connection Test` on an alert: runs it now; the result goes in the alert's thread
  (nothing about an incident reaches the channel's top level but the alert).
- `Change account`: the same private modal, with the same permission check, as the
  list's menu (handlers.actions.open_manage -> bot.usecases.repositories.entry_for).
- `Snooze`: 1 hour, 1 day, until it recovers (bot.usecases.alerts.snooze).
- `member_joined_channel` for the bot user: held channel messages are delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import alerts, projects, repositories
from bot.usecases.errors import UseCaseError
from handlers import ids
from handlers.actions import open_manage
from handlers.click import row_button
from handlers.context import Request
from handlers.delivery import deliver_outbox
from handlers.guard import Listeners
from handlers.payload import chosen_value, row_id, team_of
from handlers.slack_calls import SLACK_CALL_ERRORS, safe_call
from handlers.ui.alerts import snoozed_text
from handlers.ui.channel import test_reply
from handlers.ui.common import mrkdwn, test_result_text
from handlers.ui.i18n import ENGLISH, translate, using

log = logging.getLogger("handlers.alerts")

CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


listeners = Listeners()


def _alert_thread(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(channel, ts of the thread's parent) of the message the button is on."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    message = body.get("message") or {}
    ts = (
        message.get("thread_ts")
        or message.get("ts")
        or (body.get("container") or {}).get("message_ts")
    )
    return (str(channel), str(ts)) if channel and ts else None


async def channel_problem(client: AsyncWebClient, channel_id: str) -> str | None:
    """Why the bot cannot post in this channel (a Slack error code), or None if it can.

    Checked with `conversations.info` rather than a test post, so the channel sees
    nothing: a private channel the bot is not in answers `channel_not_found` (or,
    with groups:read, `is_member: false`); an archived one `is_archived: true`. A
    public channel the bot is not in is fine (chat:write.public). Any other failure
    of the check says nothing: the outbox still finds out on the first post.
    """
    try:
        response = await client.conversations_info(channel=channel_id)
    except SlackApiError as error:
        code = str(error.response.get("error", ""))
        return code if code in CANNOT_POST else None
    except SLACK_CALL_ERRORS as error:
        log.info("conversations.info failed: %s", type(error).__name__)
        return None
    channel = response.get("channel") or {}
    if channel.get("is_archived"):
        return "is_archived"
    if channel.get("is_private") and not channel.get("is_member"):
        return "not_in_channel"
    return None


@listeners.action(ids.A_ALERT_TEST_IN_THREAD)
@row_button
async def test_from_alert(request: Request, repository_id: int) -> None:
    thread = _alert_thread(request.body)
    if thread is None:
        return
    rt, actor = request.runtime, await request.actor()
    try:
        result = await repositories.test_saved(rt, actor, request.place, repository_id)
    except UseCaseError as error:
        await _ephemeral(request, f":x: {mrkdwn(translate(error.message))}")
        return
    channel, ts = thread
    # A reply in the channel: the project's language, not the clicker's.
    try:
        language = (
            await projects.get_project(rt, team_id=actor.team_id, channel_id=channel)
        ).language
    except UseCaseError:
        language = ENGLISH
    with using(language):
        reply = test_reply(actor.user_id, test_result_text(result))
    await safe_call(
        "chat.postMessage",
        request.client.chat_postMessage(
            channel=channel,
            thread_ts=ts,
            text=reply.text,
            blocks=[b.to_dict() for b in reply.blocks],
        ),
    )
    await deliver_outbox(rt)


@listeners.action(ids.A_ALERT_ACCOUNT)
@row_button
async def account_from_alert(request: Request, repository_id: int) -> None:
    await open_manage(request, ids.MENU_ACCOUNT, repository_id)


@listeners.action(ids.A_ALERT_SNOOZE)
async def snooze_from_alert(request: Request) -> None:
    await request.ack()
    number, _, choice = chosen_value(request.body).partition(":")
    repository_id = row_id(number)
    if repository_id is None:
        return
    rt, actor = request.runtime, await request.actor()
    try:
        snoozed = await alerts.snooze(rt, actor, request.place, repository_id, choice)
    except UseCaseError as error:
        await _ephemeral(request, f":x: {mrkdwn(error.message)}")
        return
    await deliver_outbox(rt)
    await _ephemeral(request, snoozed_text(snoozed))


async def _ephemeral(request: Request, text: str) -> None:
    """Answer the clicking user under the alert (the channel sees nothing)."""
    await request.answer(text, response_type="ephemeral", replace_original=False)


@listeners.event("member_joined_channel")
async def member_joined(request: Request) -> None:
    event = request.body.get("event")
    bot_user_id = request.bot_user_id
    if not isinstance(event, Mapping) or not bot_user_id or event.get("user") != bot_user_id:
        return
    channel_id = str(event.get("channel") or "")
    team_id = str(event.get("team") or team_of(request.body))
    if channel_id:
        await alerts.channel_joined(request.runtime, team_id=team_id, channel_id=channel_id)
        await deliver_outbox(request.runtime)
