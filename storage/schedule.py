"""The claim queries behind scheduled re-checks, shared safely by several instances.

A saved repository is due when `next_check_at` has passed and nobody holds a
live lease on it. An instance *claims* due rows by writing its id and a lease
expiry on them in one short transaction, then tests them outside any
transaction, then finishes each row (result, next time, lease cleared).

Why a lease and not a long transaction: a connection test takes seconds and
must not hold a database connection or a row lock that long. The lease makes
the claim survive the claiming transaction, so other instances skip the row
until it expires; if the claimer crashes, the expiry hands the row to whoever
claims next. On PostgreSQL the claiming SELECT uses FOR UPDATE SKIP LOCKED, so
two instances claiming at the same instant take disjoint rows instead of
waiting on (or double-claiming) each other's. SQLite has no row locks; the
claim is still one UPDATE statement (atomic there), but only one instance
should run against a SQLite file (docs/recheck.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import ConnectionCheck, ImageRepository

_repos = cast(Table, ImageRepository.__table__)
_checks = cast(Table, ConnectionCheck.__table__)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        ImageRepository.next_check_at <= now,
        or_(ImageRepository.lease_expires_at.is_(None), ImageRepository.lease_expires_at < now),
    )


async def claim_due(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease: timedelta,
) -> list[int]:
    """Lease up to `limit` due repositories to `owner`, oldest due first; their ids.

    Run it in its own short transaction and commit at once: the lease, not a
    lock, is what keeps other instances away while the tests run.
    """
    if limit <= 0:
        return []
    due = (
        select(ImageRepository.id)
        .where(_due(now))
        .order_by(ImageRepository.next_check_at, ImageRepository.id)
        .limit(limit)
    )
    if _is_postgres(session):
        # Rows another instance is claiming right now are skipped, not waited for.
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(_repos)
        .where(_repos.c.id.in_(due.scalar_subquery()))
        # Re-checked in the statement: the claim is atomic even without row locks (SQLite).
        .where(_due(now))
        .values(lease_owner=owner, lease_expires_at=now + lease)
        .returning(_repos.c.id)
    )
    return sorted((await session.scalars(statement)).all())


async def lock_claimed(session: AsyncSession, ids: Sequence[int]) -> dict[int, ImageRepository]:
    """Load claimed rows to record their results, locked on PostgreSQL.

    The lock serialises this write with anything else changing the same rows
    (a Connection Test button, `/imagerepo check`, a claim of an expired lease),
    so the caller's check of `lease_owner` stays true until it commits.
    """
    if not ids:
        return {}
    query = select(ImageRepository).where(ImageRepository.id.in_(sorted(ids)))
    if _is_postgres(session):
        query = query.order_by(ImageRepository.id).with_for_update(of=_repos)
    return {row.id: row for row in (await session.scalars(query)).unique()}


async def release(session: AsyncSession, *, owner: str, ids: Sequence[int] | None = None) -> int:
    """Give back `owner`'s leases (all, or these ids) so another instance can take them now.

    Used on a clean shutdown and for claims that could not be started; a crash
    skips this and the leases simply expire.
    """
    statement = (
        update(_repos)
        .where(_repos.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )
    if ids is not None:
        if not ids:
            return 0
        statement = statement.where(_repos.c.id.in_(list(ids)))
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def prune_history(session: AsyncSession, *, keep: int) -> int:
    """Delete all but the newest `keep` checks of every repository; how many were deleted."""
    ranked = select(
        _checks.c.id,
        func.row_number()
        .over(
            partition_by=_checks.c.repository_id,
            order_by=(_checks.c.checked_at.desc(), _checks.c.id.desc()),
        )
        .label("rank"),
    ).subquery("ranked")
    statement = delete(_checks).where(
        _checks.c.id.in_(select(ranked.c.id).where(ranked.c.rank > keep))
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
