"""Channel messages that must be delivered once: written with the change, sent afterwards.

A notification is stored in the same transaction as the state change it reports,
so a crash cannot lose it; `dedup_key` makes writing it twice (Slack's retries, a
second instance) a no-op. Delivery claims rows with a lease (SKIP LOCKED on
PostgreSQL), so several instances never send the same row at once, and a failed
post is retried later with back-off instead of being dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from storage.db import transaction
from storage.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=10)


async def enqueue(
    session: AsyncSession,
    *,
    dedup_key: str,
    team_id: str,
    channel_id: str,
    text: str,
    blocks: Sequence[Block] | None = None,
) -> bool:
    """Store a message to send; False when one with this key exists (sent or pending)."""
    exists = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
    )
    if exists is not None:
        return False
    row = OutboxMessage(
        dedup_key=dedup_key,
        team_id=team_id,
        channel_id=channel_id,
        text=text,
        blocks_json=json.dumps([b.to_dict() for b in blocks]) if blocks else None,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def _claim(
    sessions: async_sessionmaker[AsyncSession], owner: str, limit: int
) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to `owner`.

    Each lease is a conditional UPDATE (only if still unsent and unleased), so two
    senders racing for one row cannot both win, on SQLite as on PostgreSQL; on
    PostgreSQL SKIP LOCKED also keeps them from waiting on each other's rows.
    """
    now = utcnow()
    due = (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
    )
    async with transaction(sessions) as session:
        query = select(OutboxMessage.id).where(*due).order_by(OutboxMessage.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        candidates = list(await session.scalars(query))
        claimed: list[int] = []
        for message_id in candidates:
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, *due)
                .values(lease_owner=owner, lease_expires_at=now + LEASE)
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


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient,
    *,
    owner: str,
    limit: int = 50,
) -> int:
    """Send what is due; returns how many were sent. Never raises for Slack failures."""
    sent = 0
    for row in await _claim(sessions, owner, limit):
        kwargs: dict[str, Any] = {"channel": row.channel_id, "text": row.text}
        if row.blocks_json:
            kwargs["blocks"] = json.loads(row.blocks_json)
        error: str | None = None
        try:
            await client.chat_postMessage(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "slack_error"))
        except Exception as exc:  # connection refused, timeout: retry later
            error = type(exc).__name__
        async with transaction(sessions) as session:
            current = await session.get(OutboxMessage, row.id)
            if current is None or current.lease_owner != owner:
                continue
            current.lease_owner = None
            current.lease_expires_at = None
            current.attempts += 1
            if error is None:
                current.sent_at = utcnow()
                sent += 1
                metrics.NOTIFICATIONS.labels(result="sent").inc()
            else:
                metrics.NOTIFICATIONS.labels(result="failed").inc()
                backoff = min(timedelta(seconds=5 * 2 ** min(current.attempts, 10)), MAX_BACKOFF)
                current.next_attempt_at = utcnow() + backoff
                current.last_error = error[:200]
                log.warning(
                    "channel message %s not delivered (%s); retry in %ss",
                    row.id,
                    error,
                    int(backoff.total_seconds()),
                )
    return sent
