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

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import alert_messages, outbox
from storage.models import AlertIncident, ImageRepository, IncidentKind, OutboxKind


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


async def open_failing(session: AsyncSession, repo: ImageRepository, now: datetime) -> None:
    """Post the alert of a new incident (its `failing_since` names it: posted once)."""
    since = repo.failing_since or now
    project = repo.project
    incident = AlertIncident(
        repository_id=repo.id,
        kind=IncidentKind.FAILING.value,
        team_id=project.team_id,
        channel_id=project.channel_id,
        started_at=since,
    )
    session.add(incident)
    await session.flush()
    note = alert_messages.failing_alert(repo, since=since, now=now)
    await outbox.enqueue(
        session,
        dedup_key=f"failing:{repo.id}:{since.isoformat()}",
        team_id=project.team_id,
        channel_id=project.channel_id,
        text=note.text,
        blocks=note.blocks,
        kind=OutboxKind.POST,
        incident_id=incident.id,
    )
    repo.incident_id = incident.id


async def refresh_failing(session: AsyncSession, repo: ImageRepository, now: datetime) -> None:
    """Rewrite the open incident's message with the latest error (and snooze)."""
    incident = await current(session, repo)
    if incident is None or incident.kind != IncidentKind.FAILING.value:
        return
    note = alert_messages.failing_alert(repo, since=incident.started_at, now=now)
    await outbox.enqueue_edit(session, incident, text=note.text, blocks=note.blocks)


async def close_failing(session: AsyncSession, repo: ImageRepository, now: datetime) -> None:
    """The recovery: a reply in the incident's thread and its message edited."""
    incident = await current(session, repo)
    repo.incident_id = None
    if incident is None:
        return
    incident.ended_at = now
    since = incident.started_at
    edited = alert_messages.recovered_alert(repo, since=since, now=now)
    await outbox.enqueue_edit(session, incident, text=edited.text, blocks=edited.blocks)
    reply = alert_messages.recovered_reply(repo, failing_for=now - since)
    await outbox.enqueue(
        session,
        dedup_key=f"recovered:{repo.id}:{since.isoformat()}",
        team_id=incident.team_id,
        channel_id=incident.channel_id,
        text=reply.text,
        blocks=reply.blocks,
        kind=OutboxKind.REPLY,
        incident_id=incident.id,
    )
