"""Incidents: what a repository's change of health does to the channel.

One incident (an entry turning failing and being announced) is one top-level
message. While it lasts, each failing check rewrites that message (the latest
error, "failing since"); the recovery is a reply in its thread and the message
is edited to say it recovered and for how long it was down. Every message goes
through the outbox in the caller's transaction, so each is sent once however
many instances run (the caller holds the repository row: a re-check lease or the
row lock), and the edits and replies wait for the post's ts (bot/outbox.py).

A snooze (from the alert) suppresses new top-level alerts only: the entry is
still checked, its state still shown, and an open incident's message still
edited.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import outbox
from bot.notices import (
    EntryFacts,
    ExpiryReplaced,
    ExpiryWarning,
    FailingAlert,
    PullsLow,
    RecoveredAlert,
    RecoveredReply,
)
from registry.results import PullQuota
from storage import incidents as stored
from storage.enums import IncidentKind
from storage.models import AlertIncident, ImageRepository


def is_snoozed(repo: ImageRepository, now: datetime) -> bool:
    if repo.snoozed_by is None:
        return False
    if repo.snooze_until_recovered:
        return True
    return repo.snoozed_until is not None and repo.snoozed_until > now


async def current(session: AsyncSession, repo: ImageRepository) -> AlertIncident | None:
    if repo.incident_id is None:
        return None
    incident = await session.get(AlertIncident, repo.incident_id)
    if incident is None or incident.ended_at is not None:
        return None
    return incident


async def _open(
    session: AsyncSession, repo: ImageRepository, kind: IncidentKind, started_at: datetime
) -> AlertIncident:
    """A new incident of `repo`, in its project's channel (flushed: it has its id)."""
    incident = AlertIncident(
        repository_id=repo.id,
        kind=kind.value,
        team_id=repo.project.team_id,
        channel_id=repo.project.channel_id,
        started_at=started_at,
    )
    session.add(incident)
    await session.flush()
    return incident


async def open_failing(session: AsyncSession, repo: ImageRepository, now: datetime) -> None:
    """Post the alert of a new incident (its `failing_since` names it: posted once)."""
    since = repo.failing_since or now
    project = repo.project
    incident = await _open(session, repo, IncidentKind.FAILING, since)
    note = FailingAlert(EntryFacts.of(repo), since=since, now=now)
    await outbox.notify(
        session, project, note, key=f"failing:{repo.id}:{since.isoformat()}", incident=incident
    )
    repo.incident_id = incident.id


async def refresh_failing(session: AsyncSession, repo: ImageRepository, now: datetime) -> None:
    """Rewrite the open incident's message with the latest error (and snooze)."""
    incident = await current(session, repo)
    if incident is None or incident.kind != IncidentKind.FAILING.value:
        return
    note = FailingAlert(EntryFacts.of(repo), since=incident.started_at, now=now)
    await outbox.enqueue_edit(session, incident, note)


async def close_failing(session: AsyncSession, repo: ImageRepository, now: datetime) -> None:
    """The recovery: a reply in the incident's thread and its message edited."""
    incident = await current(session, repo)
    repo.incident_id = None
    if incident is None:
        return
    incident.ended_at = now
    since = incident.started_at
    entry = EntryFacts.of(repo)
    await outbox.enqueue_edit(session, incident, RecoveredAlert(entry, since=since, now=now))
    reply = RecoveredReply(entry, failing_for=now - since)
    await outbox.notify_thread(
        session, incident, reply, key=f"recovered:{repo.id}:{since.isoformat()}"
    )


EXPIRY_THRESHOLDS = (7, 1)  # days before the credential expires


async def _open_expiry(session: AsyncSession, repo: ImageRepository) -> AlertIncident | None:
    return await stored.open_of_kind(session, repo.id, IncidentKind.EXPIRY)


async def note_expiry(
    session: AsyncSession,
    repo: ImageRepository,
    *,
    known: bool,
    expires_at: datetime | None,
    now: datetime,
) -> None:
    """Store when the credential expires and warn 7 days and 1 day before, once each.

    The first warning is a top-level message (an expiry incident), a later one a
    reply in its thread with the message edited. Both thresholds crossed at once
    (first seen 12 hours before): one message. A new expiry (a new account or a
    renewed robot) starts over. Once expired, the registry refuses the account and
    the connection test's failure is the incident (like any other).
    """
    if not known:
        return
    if expires_at != repo.credential_expires_at:
        repo.credential_expires_at = expires_at
        repo.expiry_warned = None
        previous = await _open_expiry(session, repo)
        if previous is not None:
            previous.ended_at = now
            await outbox.enqueue_edit(session, previous, ExpiryReplaced(EntryFacts.of(repo)))
    if expires_at is None or expires_at <= now:
        return
    left = expires_at - now
    warned = {w for w in (repo.expiry_warned or "").split(",") if w}
    crossed = {str(t) for t in EXPIRY_THRESHOLDS if left <= timedelta(days=t)}
    new = crossed - warned
    if not new:
        return
    threshold = min(int(t) for t in new)
    repo.expiry_warned = ",".join(sorted(warned | crossed, key=int, reverse=True))
    note = ExpiryWarning(EntryFacts.of(repo), expires_at=expires_at, now=now, threshold=threshold)
    key = f"expiry:{repo.id}:{int(expires_at.timestamp())}:{threshold}"
    project = repo.project
    incident = await _open_expiry(session, repo)
    if incident is None:
        incident = await _open(session, repo, IncidentKind.EXPIRY, now)
        await outbox.notify(session, project, note, key=key, incident=incident)
        return
    await outbox.enqueue_edit(session, incident, note)
    await outbox.notify_thread(session, incident, replace(note, in_thread=True), key=key)


async def note_pull_quota(
    session: AsyncSession, repo: ImageRepository, quota: PullQuota | None, now: datetime
) -> None:
    """Tell the channel once per quota window when an account's pulls run low (`PullQuota.low`:
    at most a tenth left); the dedup key names the account and the window, so the entries
    of one account in one channel warn once."""
    if quota is None or not quota.low:
        return
    window = quota.window_s or 6 * 3600
    account = hashlib.sha256(f"{repo.registry_url}\n{repo.username or ''}".encode()).hexdigest()
    key = f"pulls:{repo.project_id}:{account[:24]}:{int(now.timestamp()) // window}"
    note = PullsLow(EntryFacts.of(repo), quota.describe())
    await outbox.notify(session, repo.project, note, key=key)
