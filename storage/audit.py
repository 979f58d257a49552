"""The audit trail's table access: an append-only, hash-chained list of records.

Each record's hash covers its canonical content (sorted-key JSON of every column
but the surrogate id) and the previous record's hash, so changing, removing or
reordering a row breaks the chain and `verify` names where.

Writers are serialized on the single `audit_head` row: `append` first UPDATEs it
(``seq = seq + 1 ... RETURNING``), which on PostgreSQL takes the row lock until
the transaction ends and on SQLite takes the database's write lock before the
head is read. So however many instances write, each record follows the one
committed before it, in the same transaction as the change it records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditHead, AuditRecord

GENESIS = "0" * 64
HEAD_ID = 1
VERIFY_BATCH = 500


class Outcome:
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class AuditEvent:
    """What happened, as the use case knows it; `append` adds time, place in the chain, hashes.

    Never a secret here: `fingerprint` is a keyed digest (see `credential_fingerprint`),
    and URLs lose any user:password@ part on the way in.
    """

    team_id: str
    user_id: str
    action: str
    outcome: str = Outcome.OK
    user_name: str = ""
    project: str | None = None
    target_type: str | None = None
    target_url: str | None = None
    target_repository: str | None = None
    error_kind: str | None = None
    detail: str | None = None
    fingerprint: str | None = None
    request_id: str | None = None


# Column limits (PostgreSQL enforces them; the hash must cover what is stored).
_LIMITS = {
    "team_id": 32,
    "user_id": 32,
    "user_name": 255,
    "action": 40,
    "project": 80,
    "target_type": 32,
    "target_url": 2048,
    "target_repository": 255,
    "outcome": 16,
    "error_kind": 40,
    "detail": 2000,
    "fingerprint": 12,
    "request_id": 64,
}
_CONTENT = (*(f.name for f in fields(AuditEvent)), "seq", "occurred_at", "prev_hash")


def strip_userinfo(url: str | None) -> str | None:
    """The URL without any `user:password@` (a URL is recorded, a credential never)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rsplit("@", 1)[-1]
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def credential_fingerprint(key: bytes, username: str | None, secret: str | None) -> str | None:
    """12 hex digits of HMAC-SHA256(key, username, secret): the same credential gives the
    same digits, and without the key they say nothing about the secret."""
    if not secret:
        return None
    material = f"{username or ''}\x1f{secret}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()[:12]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(record: AuditRecord) -> bytes:
    """The bytes the record's hash covers: sorted-key compact JSON, UTF-8."""
    content: dict[str, object] = {}
    for name in _CONTENT:
        value = getattr(record, name)
        content[name] = _timestamp(value) if isinstance(value, datetime) else value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: AuditRecord) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def _clean(event: AuditEvent) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name, limit in _LIMITS.items():
        value = getattr(event, name)
        if name == "target_url":
            value = strip_userinfo(value)
        values[name] = value[:limit] if isinstance(value, str) else value
    return values


async def _lock_head(session: AsyncSession, *, advance: int) -> tuple[int, str]:
    """Lock the head row (UPDATE first, so the read happens under the write lock) and
    return its (seq, hash); seq already advanced by `advance`."""
    statement = (
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=AuditHead.seq + advance)
        .returning(AuditHead.seq, AuditHead.head_hash)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise RuntimeError("the audit_head row is missing: run `imagerepo-bot migrate`")
    return int(row[0]), str(row[1])


async def append(session: AsyncSession, event: AuditEvent) -> AuditRecord:
    """Add one record at the end of the chain, in the caller's transaction."""
    seq, prev_hash = await _lock_head(session, advance=1)
    record = AuditRecord(
        seq=seq, occurred_at=datetime.now(UTC), prev_hash=prev_hash, **_clean(event)
    )
    for name in ("user_name", "outcome"):
        if getattr(record, name) is None:
            setattr(record, name, "")
    record.record_hash = record_hash(record)
    session.add(record)
    await session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(head_hash=record.record_hash)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return record


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.checked} record(s) verified"
        where = f"record #{self.broken_seq}" if self.broken_seq is not None else "the chain's end"
        if self.broken_id is not None:
            where += f" (row id {self.broken_id})"
        return f"audit chain broken at {where}: {self.reason}"


async def in_order(
    session: AsyncSession,
    *,
    project: str | None = None,
    since: datetime | None = None,
) -> AsyncIterator[AuditRecord]:
    """Every (matching) record, oldest first, read in batches: memory stays flat however
    long the trail is."""
    conditions = _conditions(team_id=None, project=project, since=since)
    last_seq: int | None = None
    while True:
        query = select(AuditRecord).where(*conditions).order_by(AuditRecord.seq).limit(VERIFY_BATCH)
        if last_seq is not None:
            query = query.where(AuditRecord.seq > last_seq)
        batch = list(await session.scalars(query))
        for record in batch:
            yield record
        if len(batch) < VERIFY_BATCH:
            return
        last_seq = batch[-1].seq


async def verify(session: AsyncSession) -> Verification:
    """Walk the chain from the pruning anchor to the head; the first mismatch is reported."""
    head = await session.get(AuditHead, HEAD_ID)
    if head is None:
        return Verification(False, 0, reason="the audit_head row is missing")
    expected_seq, expected_prev = head.anchor_seq + 1, head.anchor_hash
    checked = 0
    async for record in in_order(session):
        if record.seq != expected_seq:
            reason = (
                f"record #{expected_seq} is missing (deleted or moved): "
                f"the chain goes from #{expected_seq - 1} to #{record.seq}"
            )
            return Verification(False, checked, record.seq, record.id, reason)
        if record.record_hash != record_hash(record):
            reason = "its content does not match its hash (changed or moved)"
            return Verification(False, checked, record.seq, record.id, reason)
        if record.prev_hash != expected_prev:
            reason = f"it does not follow record #{expected_seq - 1} (its previous hash differs)"
            return Verification(False, checked, record.seq, record.id, reason)
        checked += 1
        expected_seq, expected_prev = record.seq + 1, record.record_hash
    if expected_seq - 1 != head.seq or expected_prev != head.head_hash:
        reason = (
            f"the chain ends at #{expected_seq - 1} but the head names #{head.seq}: "
            "the newest records were removed or changed"
        )
        return Verification(False, checked, expected_seq, None, reason)
    return Verification(True, checked)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Delete the records older than `before`; the last one deleted becomes the anchor
    (its seq and hash), so what remains still verifies. Returns how many were deleted."""
    oldest = await session.scalar(select(func.min(AuditRecord.occurred_at)))
    if oldest is None or oldest >= before:
        return 0  # nothing to prune: do not take the writers' lock
    await _lock_head(session, advance=0)
    last = await session.scalar(
        select(AuditRecord)
        .where(AuditRecord.occurred_at < before)
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    )
    if last is None:
        return 0
    result = await session.execute(
        delete(AuditRecord)
        .where(AuditRecord.seq <= last.seq)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(anchor_seq=last.seq, anchor_hash=last.record_hash)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _conditions(
    *, team_id: str | None, project: str | None, since: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if team_id is not None:
        conditions.append(AuditRecord.team_id == team_id)
    if project is not None:
        conditions.append(AuditRecord.project == project)
    if since is not None:
        conditions.append(AuditRecord.occurred_at >= since)
    return conditions


async def records(
    session: AsyncSession,
    *,
    team_id: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = True,
) -> list[AuditRecord]:
    order = AuditRecord.seq.desc() if newest_first else AuditRecord.seq
    query = (
        select(AuditRecord)
        .where(*_conditions(team_id=team_id, project=project, since=since))
        .order_by(order)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))


async def count(
    session: AsyncSession,
    *,
    team_id: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
) -> int:
    query = select(func.count(AuditRecord.id)).where(
        *_conditions(team_id=team_id, project=project, since=since)
    )
    return int(await session.scalar(query) or 0)


async def last_started(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    action: str,
    project: str,
    since: datetime,
) -> datetime | None:
    """When `user_id` last did `action` (successfully) in `project`, if at or after `since`
    (the rate limit of `/imagerepo check` reads it: the trail is shared by every instance)."""
    return await session.scalar(
        select(func.max(AuditRecord.occurred_at)).where(
            *_conditions(team_id=team_id, project=project, since=since),
            AuditRecord.user_id == user_id,
            AuditRecord.action == action,
            AuditRecord.outcome == Outcome.OK,
        )
    )
