"""The texts of an incident: the top-level alert (as first posted and as edited), its thread
replies, and the credential-expiry warnings.

Kept apart from bot/messages.py (the other channel messages) because these are edited
in place and carry the alert's actions. Built with `slack_sdk.models`, so lengths and
shapes are validated before anything reaches the outbox; never a secret, only names,
kinds and times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.messages import ChannelMessage, describe, humanize, plural, slack_date
from bot.slacktext import clip_mrkdwn, code, mrkdwn
from storage.models import ImageRepository

# Actions on the alert; handlers/alerts.py listens for them.
ACTION_ALERT_TEST = "alert_test_in_thread"
ACTION_ALERT_ACCOUNT = "alert_change_account"
ACTION_ALERT_SNOOZE = "alert_snooze"


@dataclass(frozen=True)
class SnoozeChoice:
    value: str
    label: str
    duration: timedelta | None  # None: until it recovers


SNOOZE_CHOICES = (
    SnoozeChoice("1h", "1 hour", timedelta(hours=1)),
    SnoozeChoice("1d", "1 day", timedelta(days=1)),
    SnoozeChoice("recovered", "Until it recovers", None),
)


# How much of a registry's error an alert quotes (escaped characters).
REASON_MAX = 1500
# How much of an account's name an expiry warning shows (escaped, backticks included).
USERNAME_MAX = 300


def _section(block_id: str, text: str) -> SectionBlock:
    """A section cut to Slack's 3,000 characters (never inside an entity or a token)."""
    return SectionBlock(block_id=block_id, text=MarkdownTextObject(text=clip_mrkdwn(text)))


def _context(block_id: str, text: str) -> ContextBlock:
    return ContextBlock(block_id=block_id, elements=[MarkdownTextObject(text=clip_mrkdwn(text))])


def snooze_text(repo: ImageRepository, now: datetime) -> str | None:
    """ "Snoozed by @x until …", or None when no snooze is in force."""
    if repo.snoozed_by is None:
        return None
    if repo.snooze_until_recovered:
        return f"Snoozed by <@{repo.snoozed_by}> until it recovers"
    if repo.snoozed_until is not None and repo.snoozed_until > now:
        return f"Snoozed by <@{repo.snoozed_by}> until {slack_date(repo.snoozed_until)}"
    return None


def _actions(repo: ImageRepository, *, snooze: bool = True) -> ActionsBlock:
    elements: list[ButtonElement | StaticSelectElement] = [
        ButtonElement(text="Connection Test", action_id=ACTION_ALERT_TEST, value=str(repo.id)),
        ButtonElement(text="Change account", action_id=ACTION_ALERT_ACCOUNT, value=str(repo.id)),
    ]
    if snooze:
        elements.append(
            StaticSelectElement(
                action_id=ACTION_ALERT_SNOOZE,
                placeholder=PlainTextObject(text="Snooze"),
                options=[
                    Option(value=f"{repo.id}:{c.value}", text=PlainTextObject(text=c.label))
                    for c in SNOOZE_CHOICES
                ],
            )
        )
    return ActionsBlock(block_id="alert_actions", elements=elements)


def failing_alert(repo: ImageRepository, *, since: datetime, now: datetime) -> ChannelMessage:
    """The incident's message while it lasts: the latest error and "failing since"."""
    kind = (repo.last_error_kind or "error").replace("_", " ")
    reason = mrkdwn(repo.last_message or "the connection test failed", REASON_MAX)
    text = (
        f":red_circle: The connection to {describe(repo)} is failing ({kind}) "
        f"since {slack_date(since)}."
    )
    detail = (
        f"Latest error: {reason}\n"
        f"{plural(repo.consecutive_failures, 'failed check')} in a row, "
        f"the last {slack_date(repo.last_checked_at or now)}."
    )
    blocks: list[Block] = [_section("failing", text), _context("reason", detail)]
    snoozed = snooze_text(repo, now)
    if snoozed:
        blocks.append(_context("snoozed", f":zzz: {snoozed}: no new alert meanwhile."))
    blocks.append(_actions(repo))
    return ChannelMessage(text=text, blocks=blocks)


def recovered_alert(repo: ImageRepository, *, since: datetime, now: datetime) -> ChannelMessage:
    """The incident's message once it is over (its buttons removed)."""
    text = (
        f":large_green_circle: The connection to {describe(repo)} was failing from "
        f"{slack_date(since)} and recovered {slack_date(now)}: down for "
        f"{humanize(now - since)}."
    )
    return ChannelMessage(text=text, blocks=[_section("recovered", text)])


def recovered_reply(repo: ImageRepository, *, failing_for: timedelta) -> ChannelMessage:
    text = (
        f":large_green_circle: The connection to {describe(repo)} recovered after "
        f"{humanize(failing_for)}."
    )
    return ChannelMessage(text=text, blocks=[_section("recovered", text)])


def expiry_days(expires_at: datetime, now: datetime) -> int:
    """Whole days left, rounded up (0 once expired)."""
    seconds = (expires_at - now).total_seconds()
    return max(0, int(-(-seconds // 86400)))


def expiry_warning(
    repo: ImageRepository, *, expires_at: datetime, now: datetime, threshold: int
) -> ChannelMessage:
    """The expiry incident's message (7 days before) and its thread reply (1 day before)."""
    days = expiry_days(expires_at, now)
    account = code(repo.username, USERNAME_MAX) if repo.username else "The account"
    text = (
        f":hourglass_flowing_sand: {account} used for {describe(repo)} expires in "
        f"{days} day{'s' if days != 1 else ''} ({slack_date(expires_at)}). "
        "Change the account before then."
    )
    blocks: list[Block] = [_section(f"expiry_{threshold}", text)]
    blocks.append(_actions(repo, snooze=False))
    return ChannelMessage(text=text, blocks=blocks)


def expiry_replaced(repo: ImageRepository) -> ChannelMessage:
    text = f":white_check_mark: The account used for {describe(repo)} was replaced or renewed."
    return ChannelMessage(text=text, blocks=[_section("expiry_done", text)])


def test_reply(user_id: str, result_text: str) -> ChannelMessage:
    """A Connection Test run from the alert, in its thread."""
    text = clip_mrkdwn(f"<@{user_id}> ran a connection test:\n{result_text}")
    return ChannelMessage(text=text, blocks=[_section("test_result", text)])


def late_note(queued_at: datetime) -> ContextBlock:
    return ContextBlock(
        block_id="late",
        elements=[
            MarkdownTextObject(
                text=f":hourglass: Delivered late: queued {slack_date(queued_at)}, "
                "while I could not post in this channel."
            )
        ],
    )
