"""Block Kit pieces of the alerts shown outside the alert itself: the list's and Home's
snooze, expiry and "cannot deliver" notes, and the answers to the alert's actions."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import ContextBlock

from bot.usecases.alerts import INVITE_HINT, Snoozed
from bot.usecases.repositories import RepositoryRow
from handlers.ui.channel import expiry_days, plural
from handlers.ui.common import code, context, when


def alert_status(row: RepositoryRow, now: datetime | None = None) -> str:
    """What the list row adds about alerts: "snoozed by @x until …", "expires in N days"."""
    now = now or datetime.now(UTC)
    out = ""
    if row.snoozed_by and row.snooze_until_recovered:
        out += f"  ·  :zzz: snoozed by <@{row.snoozed_by}> until it recovers"
    elif row.snoozed_by and row.snoozed_until is not None and row.snoozed_until > now:
        out += f"  ·  :zzz: snoozed by <@{row.snoozed_by}> until {when(row.snoozed_until)}"
    if row.credential_expires_at is not None:
        if row.credential_expires_at <= now:
            out += f"  ·  :warning: credential expired {when(row.credential_expires_at)}"
        else:
            days = expiry_days(row.credential_expires_at, now)
            out += f"  ·  credential expires in {plural(days, 'day')}"
    return out


def blocked_notice() -> ContextBlock:
    return context("alerts_blocked", f":warning: {INVITE_HINT[0].upper()}{INVITE_HINT[1:]}.")


def snoozed_text(snoozed: Snoozed) -> str:
    if snoozed.until is None:
        return f"Alerts for {code(snoozed.repository, 600)} are snoozed until it recovers."
    return f"Alerts for {code(snoozed.repository, 600)} are snoozed until {when(snoozed.until)}."


def invite_hint() -> str:
    return (
        ":warning: I cannot post in this channel, so its alerts cannot be delivered: "
        "invite me with `/invite @imagerepo`. Alerts are kept until then."
    )
