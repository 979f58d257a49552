"""Queries of the outbox (bot/outbox.py decides what to send, when, and what an answer
means; these functions only read and write rows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import transaction
from storage.enums import OutboxKind
from storage.models import AlertIncident, OutboxMessage, Project, utcnow


async def exists(session: AsyncSession, dedup_key: str) -> bool:
    """Whether a message with this key was queued before (sent or pending)."""
    found = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
    )
    return found is not None


async def blocked_since(session: AsyncSession, team_id: str, channel_id: str) -> datetime | None:
    """When the project's channel stopped taking the bot's messages (None: it takes them)."""
    value: datetime | None = await session.scalar(
        select(Project.alerts_blocked_since).where(
            Project.team_id == team_id, Project.channel_id == channel_id
        )
    )
    return value


def _unclaimed_edits(incident_id: int) -> tuple[Any, ...]:
    return (
        OutboxMessage.incident_id == incident_id,
        OutboxMessage.kind.in_([OutboxKind.POST.value, OutboxKind.UPDATE.value]),
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.gave_up_at.is_(None),
        OutboxMessage.lease_owner.is_(None),
    )


async def rewrite_pending(session: AsyncSession, incident_id: int, content: str) -> bool:
    """Put `content` into the incident's latest unsent, unleased post or edit; False when
    there is none (or a sender leased it meanwhile: the update is conditional)."""
    unclaimed = _unclaimed_edits(incident_id)
    latest = await session.scalar(
        select(OutboxMessage.id).where(*unclaimed).order_by(OutboxMessage.id.desc()).limit(1)
    )
    if latest is None:
        return False
    rewritten = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == latest, *unclaimed)
        .values(text="", blocks_json=content)
        .execution_options(synchronize_session=False)
    )
    return getattr(rewritten, "rowcount", 0) == 1


def _due_clauses(now: datetime) -> tuple[Any, ...]:
    anchored = select(AlertIncident.id).where(AlertIncident.message_ts.is_not(None))
    return (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.held_since.is_(None),
        OutboxMessage.gave_up_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
        # An edit or a thread reply waits until its incident's message has a ts.
        or_(OutboxMessage.kind == OutboxKind.POST.value, OutboxMessage.incident_id.in_(anchored)),
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession], owner: str, limit: int, lease: timedelta
) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to `owner`, oldest first.

    Each lease is a conditional UPDATE (only if still unsent and unleased), so two
    senders racing for one row cannot both win, on SQLite as on PostgreSQL; on
    PostgreSQL SKIP LOCKED also keeps them from waiting on each other's rows.
    """
    now = utcnow()
    due = _due_clauses(now)
    async with transaction(sessions) as session:
        query = select(OutboxMessage.id).where(*due).order_by(OutboxMessage.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxMessage)
        candidates = list(await session.scalars(query))
        claimed: list[int] = []
        for message_id in candidates:
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, *due)
                .values(lease_owner=owner, lease_expires_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(message_id)
        if not claimed:
            return []
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
        )
        return list(rows)


async def anchors(session: AsyncSession, rows: Sequence[OutboxMessage]) -> dict[int, str]:
    """incident id -> ts of its message, for the edits and replies in `rows`."""
    wanted = {r.incident_id for r in rows if r.incident_id is not None}
    if not wanted:
        return {}
    found = await session.execute(
        select(AlertIncident.id, AlertIncident.message_ts).where(AlertIncident.id.in_(wanted))
    )
    return {i: ts for i, ts in found.all() if ts}


async def channel_languages(
    session: AsyncSession, rows: Sequence[OutboxMessage]
) -> dict[tuple[str, str], str]:
    """(team, channel) -> the language of its project's channel messages, for `rows`."""
    teams = {r.team_id for r in rows}
    channels = {r.channel_id for r in rows}
    if not channels:
        return {}
    found = await session.execute(
        select(Project.team_id, Project.channel_id, Project.language).where(
            Project.team_id.in_(teams), Project.channel_id.in_(channels)
        )
    )
    return {(t, c): language or "en" for t, c, language in found.all()}


async def blocked_channels(session: AsyncSession) -> set[tuple[str, str]]:
    """(team, channel) of every project whose channel does not take the bot's messages."""
    found = await session.execute(
        select(Project.team_id, Project.channel_id).where(Project.alerts_blocked_since.is_not(None))
    )
    return {(t, c) for t, c in found.all()}


async def release(owner: str, ids: Sequence[int], session: AsyncSession) -> None:
    """Hand back leases of `owner` on messages it did not try to send."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


async def project_of_channel(
    session: AsyncSession, team_id: str, channel_id: str
) -> Project | None:
    found: Project | None = await session.scalar(
        select(Project).where(Project.team_id == team_id, Project.channel_id == channel_id)
    )
    return found


async def release_held(session: AsyncSession, *, team_id: str, channel_id: str) -> int:
    """Make the channel's held messages due now, marked late; how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.team_id == team_id,
            OutboxMessage.channel_id == channel_id,
            OutboxMessage.held_since.is_not(None),
            OutboxMessage.sent_at.is_(None),
        )
        .values(held_since=None, late=True, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def pending_count(session: AsyncSession) -> int:
    """Rows not sent and not given up (held ones included)."""
    value = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.gave_up_at.is_(None)
        )
    )
    return int(value or 0)
