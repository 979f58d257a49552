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

A row holds what to say as typed data (`bot.notices`, as JSON); sending hands it to a
`Poster`, which words it and calls the Web API (handlers/delivery.py: only handlers
speak Slack), and answers what Slack said. The queries live in storage/outbox.py.

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
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics, notices
from bot.notices import Notice
from storage import outbox as stored
from storage.db import in_transaction
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


@dataclass(frozen=True)
class Outgoing:
    """One message to send, as the `Poster` needs it.

    `notice` is what to say; a row queued by a version before notices holds its words
    and Block Kit instead (`legacy_text`, `legacy_blocks`). `anchor_ts` is the incident
    message's ts for an edit (`UPDATE`) or a thread reply (`REPLY`); `late` marks a
    message held while the bot could not post in the channel (queued at `queued_at`).
    """

    kind: OutboxKind
    channel_id: str
    notice: Notice | None
    legacy_text: str
    legacy_blocks: list[Any] | None
    anchor_ts: str | None
    late: bool
    queued_at: datetime
    language: str = "en"  # the project's (`project language`): the words of `notice`


@dataclass(frozen=True)
class Answer:
    """What Slack answered: `error` None when it took the message (`ts` its timestamp),
    else its error code (or the exception's name when Slack could not be reached)."""

    error: str | None
    ts: str | None = None


class Poster(Protocol):
    """Words and sends one message (handlers/delivery.py); never raises for Slack."""

    async def __call__(self, message: Outgoing) -> Answer: ...


async def enqueue(
    session: AsyncSession,
    *,
    dedup_key: str,
    team_id: str,
    channel_id: str,
    notice: Notice,
    kind: OutboxKind = OutboxKind.POST,
    incident_id: int | None = None,
) -> bool:
    """Store a message to send; False when one with this key exists (sent or pending)."""
    if await stored.exists(session, dedup_key):
        return False
    held = await stored.blocked_since(session, team_id, channel_id)
    row = OutboxMessage(
        dedup_key=dedup_key,
        team_id=team_id,
        channel_id=channel_id,
        text="",
        blocks_json=notices.dump(notice),
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
    notice: Notice,
    *,
    key: str,
    incident: AlertIncident | None = None,
) -> bool:
    """Queue `notice` at the top level of the project's channel (the incident's alert
    when one is given); False when one with this key was queued before."""
    incident_id = incident.id if incident is not None else None
    return await _queue(session, key, project, notice, incident_id)


async def notify_thread(
    session: AsyncSession, incident: AlertIncident, notice: Notice, *, key: str
) -> bool:
    """Queue a reply in the incident's thread, in the channel the incident was opened in."""
    return await _queue(session, key, incident, notice, incident.id)


async def _queue(
    session: AsyncSession,
    key: str,
    place: Project | AlertIncident,
    notice: Notice,
    incident_id: int | None,
) -> bool:
    """`enqueue` in `place`'s channel: an incident's message goes into its thread (a reply),
    a project's at the top level (a post)."""
    return await enqueue(
        session,
        dedup_key=key,
        team_id=place.team_id,
        channel_id=place.channel_id,
        notice=notice,
        kind=OutboxKind.REPLY if isinstance(place, AlertIncident) else OutboxKind.POST,
        incident_id=incident_id,
    )


async def enqueue_edit(session: AsyncSession, incident: AlertIncident, notice: Notice) -> None:
    """Queue the incident message's new content, coalesced with what is still pending.

    While the post itself is unsent, the post is rewritten (Slack then sees one
    message, already up to date); otherwise a pending, unleased edit is rewritten;
    otherwise a new edit is queued (sent after the ones before it, by id).
    """
    if await stored.rewrite_pending(session, incident.id, notices.dump(notice)):
        return
    await enqueue(
        session,
        dedup_key=f"edit:{incident.id}:{secrets.token_hex(8)}",
        team_id=incident.team_id,
        channel_id=incident.channel_id,
        notice=notice,
        kind=OutboxKind.UPDATE,
        incident_id=incident.id,
    )


def outgoing(
    row: OutboxMessage, anchors: dict[int, str], languages: dict[tuple[str, str], str] | None = None
) -> Outgoing:
    """What the `Poster` gets for a leased row (in its project's language, read as it is
    sent: a `project language` change applies to what was still waiting)."""
    content = json.loads(row.blocks_json) if row.blocks_json else None
    notice = notices.load(content)
    anchor = anchors.get(row.incident_id or 0) if row.kind != OutboxKind.POST.value else None
    return Outgoing(
        kind=OutboxKind(row.kind),
        channel_id=row.channel_id,
        notice=notice,
        legacy_text=row.text,
        legacy_blocks=content if notice is None and isinstance(content, list) else None,
        anchor_ts=anchor or ("" if row.kind != OutboxKind.POST.value else None),
        late=bool(row.late),
        queued_at=row.created_at,
        language=(languages or {}).get((row.team_id, row.channel_id), "en"),
    )


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
    post: Poster,
    *,
    owner: str,
    limit: int = 50,
) -> int:
    """Send what is due; returns how many were sent. Never raises for Slack failures."""
    sent = 0
    rows = await stored.claim(sessions, owner, limit, LEASE)
    if not rows:
        return 0
    # Read again on a new connection if the database cut this one: the rows are leased
    # now, and giving up here would hold them until the lease runs out.
    anchors = await in_transaction(sessions, partial(stored.anchors, rows=rows))
    blocked = await in_transaction(sessions, stored.blocked_channels)
    languages = await in_transaction(sessions, partial(stored.channel_languages, rows=rows))
    token_error: str | None = None
    for index, row in enumerate(rows):
        try:
            outcome = await _to_the_end(
                _deliver_one(sessions, post, row, owner, (anchors, languages), blocked, token_error)
            )
        except asyncio.CancelledError:
            # Stopping (shutdown, a timeout): the rows not tried yet go back at once
            # instead of waiting for their lease to run out.
            unsent = [r.id for r in rows[index:]]
            with contextlib.suppress(Exception):
                await _to_the_end(in_transaction(sessions, partial(stored.release, owner, unsent)))
            raise
        if outcome.error in TOKEN_ERRORS and not outcome.skipped:
            token_error = outcome.error
        if outcome.error is None:
            sent += 1
    return sent


async def _deliver_one(
    sessions: async_sessionmaker[AsyncSession],
    post: Poster,
    row: OutboxMessage,
    owner: str,
    looked_up: tuple[dict[int, str], dict[tuple[str, str], str]],
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
        outcome = await _send(post, row, *looked_up)
        if outcome.error in TOKEN_ERRORS:
            _log_token_failure(outcome.error)
    # Slack has the message now: its record must land, or it would be sent again
    # once the lease expires (in_transaction retries a dropped connection).
    record = partial(_record, row=row, owner=owner, outcome=outcome, blocked=blocked)
    await in_transaction(sessions, record)
    return outcome


async def _send(
    post: Poster,
    row: OutboxMessage,
    anchors: dict[int, str],
    languages: dict[tuple[str, str], str],
) -> _Outcome:
    try:
        answer = await post(outgoing(row, anchors, languages))
    except Exception as exc:  # a Poster that broke its promise: retry later
        return _Outcome(type(exc).__name__, None, skipped=False)
    return _Outcome(answer.error, answer.ts if answer.error is None else None, skipped=False)


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
    project = await stored.project_of_channel(session, team_id, channel_id)
    if project is not None and project.alerts_blocked_since is None:
        project.alerts_blocked_since = now
        project.alerts_blocked_error = error[:32]


async def release_held(session: AsyncSession, *, team_id: str, channel_id: str) -> int:
    """The bot can post in the channel again: send what was held, oldest first, marked late."""
    return await stored.release_held(session, team_id=team_id, channel_id=channel_id)


async def pending_count(session: AsyncSession) -> int:
    """Rows not sent and not given up (held ones included): zero means nothing is lost."""
    return await stored.pending_count(session)
