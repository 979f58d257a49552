"""Channel messages that must be delivered once: written with the change, sent afterwards.

A notification is stored in the same transaction as the state change it reports,
so a crash cannot lose it; `dedup_key` makes writing it twice (Slack's retries, a
second instance) a no-op. Delivery claims rows with a lease (SKIP LOCKED on
PostgreSQL), so several instances never send the same row at once, and a failed
post is retried later with back-off instead of being dropped.

Three kinds of row (storage.enums.OutboxKind): a top-level post, an edit
(`chat.update`) of an incident's message and a reply in its thread. An edit or a
reply is due only once the incident's message has been posted and its `ts`
stored (in the same transaction that marks the post sent), so they never
overtake it, on one instance or many. Edits of one incident are coalesced: a
new edit rewrites a pending one instead of queueing another.

What is not retried (docs/facts.md, Slack): a channel the bot cannot post in
(`not_in_channel`, `channel_not_found`, `is_archived`) holds its messages
(`held_since`) and marks the project, until the bot joins the channel
(bot.usecases.alerts.channel_joined); a refused token (`invalid_auth`,
`token_revoked`, `account_inactive`) is logged once per process as an error,
counted in `imagerepo_slack_token_failures_total`, and stops the batch for
MAX_BACKOFF; an edit whose message is gone is given up (`gave_up_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.alert_messages import late_note
from bot.messages import ChannelMessage
from storage.db import in_transaction, transaction
from storage.enums import OutboxKind
from storage.models import AlertIncident, OutboxMessage, Project, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=10)

CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
TOKEN_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed"})
# The message to edit or reply to is gone (deleted by someone): retrying cannot help.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "thread_not_found"})

_token_errors_logged: set[str] = set()


async def enqueue(
    session: AsyncSession,
    *,
    dedup_key: str,
    team_id: str,
    channel_id: str,
    text: str,
    blocks: Sequence[Block] | None = None,
    kind: OutboxKind = OutboxKind.POST,
    incident_id: int | None = None,
) -> bool:
    """Store a message to send; False when one with this key exists (sent or pending)."""
    exists = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
    )
    if exists is not None:
        return False
    held = await _blocked_since(session, team_id, channel_id)
    row = OutboxMessage(
        dedup_key=dedup_key,
        team_id=team_id,
        channel_id=channel_id,
        text=text,
        blocks_json=_blocks_json(blocks),
        kind=kind.value,
        incident_id=incident_id,
        held_since=held,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


async def notify(
    session: AsyncSession,
    project: Project,
    message: ChannelMessage,
    *,
    key: str,
    incident: AlertIncident | None = None,
) -> bool:
    """Queue `message` at the top level of the project's channel (the incident's alert
    when one is given); False when one with this key was queued before."""
    incident_id = incident.id if incident is not None else None
    return await _queue(session, key, project, message.text, message.blocks, incident_id)


async def notify_thread(
    session: AsyncSession,
    incident: AlertIncident,
    message: ChannelMessage,
    *,
    key: str,
    blocks: Sequence[Block] | None = None,
) -> bool:
    """Queue a reply in the incident's thread, in the channel the incident was opened in
    (`blocks`: instead of the message's own)."""
    chosen = message.blocks if blocks is None else blocks
    return await _queue(session, key, incident, message.text, chosen, incident.id)


async def _queue(
    session: AsyncSession,
    key: str,
    place: Project | AlertIncident,
    text: str,
    blocks: Sequence[Block] | None,
    incident_id: int | None,
) -> bool:
    """`enqueue` in `place`'s channel: an incident's message goes into its thread (a reply),
    a project's at the top level (a post)."""
    return await enqueue(
        session,
        dedup_key=key,
        team_id=place.team_id,
        channel_id=place.channel_id,
        text=text,
        blocks=blocks,
        kind=OutboxKind.REPLY if isinstance(place, AlertIncident) else OutboxKind.POST,
        incident_id=incident_id,
    )


async def enqueue_edit(
    session: AsyncSession,
    incident: AlertIncident,
    *,
    text: str,
    blocks: Sequence[Block] | None,
) -> None:
    """Queue the incident message's new content, coalesced with what is still pending.

    While the post itself is unsent, the post is rewritten (Slack then sees one
    message, already up to date); otherwise a pending, unleased edit is rewritten;
    otherwise a new edit is queued (sent after the ones before it, by id).
    """
    unclaimed = (
        OutboxMessage.incident_id == incident.id,
        OutboxMessage.kind.in_([OutboxKind.POST.value, OutboxKind.UPDATE.value]),
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.gave_up_at.is_(None),
        OutboxMessage.lease_owner.is_(None),
    )
    latest = await session.scalar(
        select(OutboxMessage.id).where(*unclaimed).order_by(OutboxMessage.id.desc()).limit(1)
    )
    if latest is not None:
        # Conditional, so a sender that leased the row meanwhile (and read the old
        # text) is noticed: then a new edit is queued instead.
        rewritten = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == latest, *unclaimed)
            .values(text=text, blocks_json=_blocks_json(blocks))
            .execution_options(synchronize_session=False)
        )
        if getattr(rewritten, "rowcount", 0) == 1:
            return
    await enqueue(
        session,
        dedup_key=f"edit:{incident.id}:{secrets.token_hex(8)}",
        team_id=incident.team_id,
        channel_id=incident.channel_id,
        text=text,
        blocks=blocks,
        kind=OutboxKind.UPDATE,
        incident_id=incident.id,
    )


def _blocks_json(blocks: Sequence[Block] | None) -> str | None:
    return json.dumps([b.to_dict() for b in blocks]) if blocks else None


async def _blocked_since(session: AsyncSession, team_id: str, channel_id: str) -> datetime | None:
    """When the project's channel stopped taking the bot's messages (None: it takes them)."""
    value: datetime | None = await session.scalar(
        select(Project.alerts_blocked_since).where(
            Project.team_id == team_id, Project.channel_id == channel_id
        )
    )
    return value


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


async def _claim(
    sessions: async_sessionmaker[AsyncSession], owner: str, limit: int
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


async def _anchors(session: AsyncSession, rows: Sequence[OutboxMessage]) -> dict[int, str]:
    """incident id -> ts of its message, for the edits and replies in `rows`."""
    wanted = {r.incident_id for r in rows if r.incident_id is not None}
    if not wanted:
        return {}
    found = await session.execute(
        select(AlertIncident.id, AlertIncident.message_ts).where(AlertIncident.id.in_(wanted))
    )
    return {i: ts for i, ts in found.all() if ts}


async def _blocked_channels(session: AsyncSession) -> set[tuple[str, str]]:
    found = await session.execute(
        select(Project.team_id, Project.channel_id).where(Project.alerts_blocked_since.is_not(None))
    )
    return {(t, c) for t, c in found.all()}


def _call_kwargs(row: OutboxMessage, anchors: dict[int, str]) -> tuple[str, dict[str, Any]]:
    kwargs: dict[str, Any] = {"channel": row.channel_id, "text": row.text}
    blocks: list[Any] | None = json.loads(row.blocks_json) if row.blocks_json else None
    if row.late and row.kind != OutboxKind.UPDATE.value:
        kwargs["text"] = f"(Delivered late) {row.text}"[:40000]
        note = late_note(row.created_at).to_dict()
        blocks = [note, *(blocks or [])][:50]
    if blocks:
        kwargs["blocks"] = blocks
    if row.kind == OutboxKind.UPDATE.value:
        kwargs["ts"] = anchors.get(row.incident_id or 0, "")
        return "chat_update", kwargs
    if row.kind == OutboxKind.REPLY.value:
        kwargs["thread_ts"] = anchors.get(row.incident_id or 0, "")
    return "chat_postMessage", kwargs


def _log_token_failure(error: str) -> None:
    metrics.SLACK_TOKEN_FAILURES.labels(error=error).inc()
    if error not in _token_errors_logged:
        _token_errors_logged.add(error)
        log.error(
            "Slack refused the bot token (%s): channel messages wait until it is fixed "
            "(SLACK_BOT_TOKEN, or reinstall the app); retried every %d min",
            error,
            int(MAX_BACKOFF.total_seconds() // 60),
        )


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient,
    *,
    owner: str,
    limit: int = 50,
) -> int:
    """Send what is due; returns how many were sent. Never raises for Slack failures."""
    sent = 0
    rows = await _claim(sessions, owner, limit)
    if not rows:
        return 0
    # Read again on a new connection if the database cut this one: the rows are leased
    # now, and giving up here would hold them until the lease runs out.
    anchors = await in_transaction(sessions, partial(_anchors, rows=rows))
    blocked = await in_transaction(sessions, _blocked_channels)
    token_error: str | None = None
    for index, row in enumerate(rows):
        try:
            outcome = await _to_the_end(
                _deliver_one(sessions, client, row, owner, anchors, blocked, token_error)
            )
        except asyncio.CancelledError:
            # Stopping (shutdown, a timeout): the rows not tried yet go back at once
            # instead of waiting for their lease to run out.
            unsent = [r.id for r in rows[index:]]
            with contextlib.suppress(Exception):
                await _to_the_end(in_transaction(sessions, partial(_release, owner, unsent)))
            raise
        if outcome.error in TOKEN_ERRORS and not outcome.skipped:
            token_error = outcome.error
        if outcome.error is None:
            sent += 1
    return sent


async def _deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient,
    row: OutboxMessage,
    owner: str,
    anchors: dict[int, str],
    blocked: set[tuple[str, str]],
    token_error: str | None,
) -> _Outcome:
    """Send one leased message (unless the token or the channel is known to refuse it)
    and record what Slack answered."""
    if token_error is not None:
        outcome = _Outcome(token_error, None, skipped=True)
    elif (row.team_id, row.channel_id) in blocked:
        outcome = _Outcome("channel_blocked", None, skipped=True)
    else:
        outcome = await _send(client, row, anchors)
        if outcome.error in TOKEN_ERRORS:
            _log_token_failure(outcome.error)
    # Slack has the message now: its record must land, or it would be sent again
    # once the lease expires (in_transaction retries a dropped connection).
    record = partial(_record, row=row, owner=owner, outcome=outcome, blocked=blocked)
    await in_transaction(sessions, record)
    return outcome


async def _send(client: AsyncWebClient, row: OutboxMessage, anchors: dict[int, str]) -> _Outcome:
    method, kwargs = _call_kwargs(row, anchors)
    try:
        if method == "chat_update":
            response = await client.chat_update(**kwargs)
        else:
            response = await client.chat_postMessage(**kwargs)
    except SlackApiError as exc:
        return _Outcome(str(exc.response.get("error", "slack_error")), None, skipped=False)
    except Exception as exc:  # connection refused, timeout: retry later
        return _Outcome(type(exc).__name__, None, skipped=False)
    return _Outcome(None, str(response.get("ts") or "") or None, skipped=False)


async def _to_the_end(step: Awaitable[T]) -> T:
    """Await `step` to its end even when the caller is cancelled meanwhile (then re-raise
    the cancellation): a message Slack may have taken must be recorded as sent, or it
    would be sent again once its lease ran out."""
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


async def _release(owner: str, ids: Sequence[int], session: AsyncSession) -> None:
    """Hand back leases of `owner` on messages it did not try to send."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class _Outcome:
    """What Slack answered for one message: `error` None when it was sent (`ts` its
    timestamp); `skipped` when it was not even tried (a refused token, a blocked channel)."""

    error: str | None
    ts: str | None
    skipped: bool


async def _record(
    session: AsyncSession,
    row: OutboxMessage,
    owner: str,
    outcome: _Outcome,
    blocked: set[tuple[str, str]],
) -> None:
    """Store what Slack answered for `row` and release its lease.

    Safe to run again after a dropped connection: it re-reads the row and does
    nothing unless `owner` still holds the lease.
    """
    error, ts, skipped = outcome.error, outcome.ts, outcome.skipped
    current = await session.get(OutboxMessage, row.id)
    if current is None or current.lease_owner != owner:
        return
    current.lease_owner = None
    current.lease_expires_at = None
    now = utcnow()
    if error is None:
        current.attempts += 1
        current.sent_at = now
        metrics.NOTIFICATIONS.labels(result="sent").inc()
        if current.kind == OutboxKind.POST.value and current.incident_id is not None:
            incident = await session.get(AlertIncident, current.incident_id)
            if incident is not None and incident.message_ts is None:
                incident.message_ts = ts
        return
    current.last_error = error[:200]
    if error in CHANNEL_ERRORS or error == "channel_blocked":
        current.held_since = now
        metrics.NOTIFICATIONS.labels(result="held").inc()
        if error != "channel_blocked":
            current.attempts += 1
            blocked.add((row.team_id, row.channel_id))
            await _mark_blocked(session, row.team_id, row.channel_id, error, now)
            log.warning(
                "channel %s does not take the bot's messages (%s): held until the bot is invited",
                row.channel_id,
                error,
            )
    elif error in TOKEN_ERRORS:
        if not skipped:
            current.attempts += 1
        current.next_attempt_at = now + MAX_BACKOFF
        metrics.NOTIFICATIONS.labels(result="failed").inc()
    elif error in GONE_ERRORS:
        current.attempts += 1
        current.gave_up_at = now
        metrics.NOTIFICATIONS.labels(result="gave_up").inc()
        log.warning("channel message %s given up: %s", row.id, error)
    else:
        current.attempts += 1
        metrics.NOTIFICATIONS.labels(result="failed").inc()
        backoff = min(timedelta(seconds=5 * 2 ** min(current.attempts, 10)), MAX_BACKOFF)
        current.next_attempt_at = now + backoff
        log.warning(
            "channel message %s not delivered (%s); retry in %ss",
            row.id,
            error,
            int(backoff.total_seconds()),
        )


async def _mark_blocked(
    session: AsyncSession, team_id: str, channel_id: str, error: str, now: datetime
) -> None:
    project = await session.scalar(
        select(Project).where(Project.team_id == team_id, Project.channel_id == channel_id)
    )
    if project is not None and project.alerts_blocked_since is None:
        project.alerts_blocked_since = now
        project.alerts_blocked_error = error[:32]


async def release_held(session: AsyncSession, *, team_id: str, channel_id: str) -> int:
    """The bot can post in the channel again: send what was held, oldest first, marked late."""
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
    """Rows not sent and not given up (held ones included): zero means nothing is lost."""
    from sqlalchemy import func

    value = await session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.gave_up_at.is_(None)
        )
    )
    return int(value or 0)
