"""Block Kit pieces of the alerts shown outside the alert itself: the list's and Home's
snooze, expiry and "cannot deliver" notes, and the answers to the alert's actions."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.models.blocks import ContextBlock

from bot.usecases.alerts import INVITE_HINT, Snoozed
from bot.usecases.repositories import RepositoryRow
from handlers.ui.channel import expiry_days
from handlers.ui.common import code, context, when
from handlers.ui.i18n import _, counted


def alert_status(row: RepositoryRow, now: datetime | None = None) -> str:
    """What the list row adds about alerts: "snoozed by @x until …", "expires in N days"."""
    now = now or datetime.now(UTC)
    out = ""
    if row.snoozed_by and row.snooze_until_recovered:
        out += _("  ·  :zzz: snoozed by <@{user}> until it recovers").format(user=row.snoozed_by)
    elif row.snoozed_by and row.snoozed_until is not None and row.snoozed_until > now:
        out += _("  ·  :zzz: snoozed by <@{user}> until {when}").format(
            user=row.snoozed_by, when=when(row.snoozed_until)
        )
    if row.credential_expires_at is not None:
        if row.credential_expires_at <= now:
            out += _("  ·  :warning: credential expired {when}").format(
                when=when(row.credential_expires_at)
            )
        else:
            days = expiry_days(row.credential_expires_at, now)
            out += _("  ·  credential expires in {days}").format(
                days=counted("{count} day", "{count} days", days)
            )
    return out


def blocked_notice() -> ContextBlock:
    hint = _(INVITE_HINT)
    return context("alerts_blocked", f":warning: {hint[0].upper()}{hint[1:]}.")


def snoozed_text(snoozed: Snoozed) -> str:
    if snoozed.until is None:
        return _("Alerts for {repository} are snoozed until it recovers.").format(
            repository=code(snoozed.repository, 600)
        )
    return _("Alerts for {repository} are snoozed until {when}.").format(
        repository=code(snoozed.repository, 600), when=when(snoozed.until)
    )


def invite_hint() -> str:
    return _(
        ":warning: I cannot post in this channel, so its alerts cannot be delivered: "
        "invite me with `/invite @imagerepo`. Alerts are kept until then."
    )
