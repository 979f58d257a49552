"""Use cases behind the alert's actions and the channel's deliverability.

- `snooze`: from the alert's Snooze menu; no new alert until it ends, the alert
  edited to say who snoozed and until when.
- `channel_state` / `channel_joined`: whether the bot can post in a project's
  channel; messages held while it cannot are released (oldest first, marked
  late) when it joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import audit, incidents, outbox
from bot.audit import Action
from bot.runtime import Runtime
from bot.usecases import permissions
from bot.usecases.actor import Actor
from bot.usecases.errors import N_, InvalidInput
from bot.usecases.permissions import Place
from storage import projects, repositories
from storage.db import transaction
from storage.errors import NotFoundError
from storage.models import ImageRepository, utcnow

INVITE_HINT = N_("channel alerts cannot be delivered: invite @imagerepo (`/invite @imagerepo`)")


@dataclass(frozen=True)
class SnoozeChoice:
    """A Snooze menu choice: its value in the alert's select, its name in the audit trail
    and how long it lasts (None: until it recovers). The menu's words: handlers/ui."""

    value: str
    label: str
    duration: timedelta | None


SNOOZE_CHOICES = (
    SnoozeChoice("1h", "1 hour", timedelta(hours=1)),
    SnoozeChoice("1d", "1 day", timedelta(days=1)),
    SnoozeChoice("recovered", "Until it recovers", None),
)


@dataclass(frozen=True)
class Snoozed:
    repository: str
    choice: SnoozeChoice
    until: datetime | None


def snooze_choice(value: str) -> SnoozeChoice:
    for choice in SNOOZE_CHOICES:
        if choice.value == value:
            return choice
    raise InvalidInput({"snooze": N_("Choose 1 hour, 1 day or Until it recovers.")})


async def snooze(
    rt: Runtime,
    actor: Actor,
    place: Place,
    repository_id: int,
    value: str,
    *,
    now: datetime | None = None,
) -> Snoozed:
    """Snooze a repository's alerts; anyone who sees the project's list from where the
    click came may (it is only about the channel's noise: checks and the list are
    unchanged)."""
    choice = snooze_choice(value)
    now = now or utcnow()
    async with transaction(rt.sessions) as session:
        try:
            found: ImageRepository | None = await repositories.get(session, repository_id)
        except NotFoundError:
            found = None
        repo = await permissions.require_entry_visible(session, actor, place, found)
        repo.snoozed_by = actor.user_id
        repo.snooze_until_recovered = choice.duration is None
        repo.snoozed_until = now + choice.duration if choice.duration is not None else None
        if repo.alerted:
            await incidents.refresh_failing(session, repo, now)
        name = repo.repository
        until = repo.snoozed_until
        await audit.record(
            session, audit.for_repository(rt, actor, Action.SNOOZE, repo, detail=choice.label)
        )
    rt.outbox_ready.set()
    return Snoozed(repository=name, choice=choice, until=until)


async def channel_state(rt: Runtime, *, team_id: str, channel_id: str, error: str | None) -> None:
    """Record whether the bot can post in the channel (`error` None: it can).

    When it can again, what was held is released for delivery (marked late).
    """
    async with transaction(rt.sessions) as session:
        project = await projects.get_by_channel(session, team_id, channel_id)
        if project is None:
            return
        if error is not None:
            if project.alerts_blocked_since is None:
                project.alerts_blocked_since = utcnow()
            project.alerts_blocked_error = error[:32]
            return
        project.alerts_blocked_since = None
        project.alerts_blocked_error = None
        released = await outbox.release_held(session, team_id=team_id, channel_id=channel_id)
    if released:
        rt.outbox_ready.set()


async def channel_joined(rt: Runtime, *, team_id: str, channel_id: str) -> None:
    """`member_joined_channel` for the bot itself: deliver what waited for it."""
    await channel_state(rt, team_id=team_id, channel_id=channel_id, error=None)
