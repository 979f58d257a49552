"""Saved repositories in bulk, for the re-check tests and bench/recheck.py.

Rows are inserted with one multi-row INSERT (10,000 through the ORM would take
longer than the pass being measured); the secret is encrypted once and shared,
which is what the scheduler sees for any number of repositories of one account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import projects
from storage.crypto import SecretBox
from storage.db import transaction
from storage.enums import RepositoryAccess
from storage.models import ImageRepository, utcnow


async def project(
    sessions: async_sessionmaker[AsyncSession], *, channel_id: str = "C-RECHECK", name: str = "ops"
) -> int:
    async with transaction(sessions) as session:
        created = await projects.create(
            session, team_id="T1", channel_id=channel_id, name=name, created_by="U1"
        )
    return created.id


async def repositories(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox | None,
    *,
    project_id: int,
    registry_url: str,
    count: int,
    repository: str = "team/app-{i}",
    username: str | None = None,
    secret: str | None = None,
    pull_only: bool = True,
    next_check_at: datetime | None = None,
    registry_type: str = "registry",
) -> list[int]:
    """Insert `count` saved repositories on one registry; their new ids, in order."""
    ciphertext = box.encrypt(secret) if box is not None and secret else None
    now = utcnow()
    rows = [
        {
            "project_id": project_id,
            "access": (RepositoryAccess.PULL_ONLY if pull_only else RepositoryAccess.APP).value,
            "registry_type": registry_type,
            "registry_url": registry_url,
            "repository": repository.format(i=i),
            "username": username,
            "secret_ciphertext": ciphertext,
            "tls_verify": True,
            "added_by": "U1",
            "added_at": now,
            "updated_at": now,
            "health": "unknown",
            "consecutive_failures": 0,
            "alerted": False,
            "next_check_at": next_check_at or now,
        }
        for i in range(count)
    ]
    async with sessions() as session:
        last = await session.scalar(select(func.max(ImageRepository.id))) or 0
    async with transaction(sessions) as session:
        for start in range(0, len(rows), 1000):
            await session.execute(insert(ImageRepository), rows[start : start + 1000])
    async with sessions() as session:
        ids = await session.scalars(
            select(ImageRepository.id)
            .where(ImageRepository.project_id == project_id, ImageRepository.id > last)
            .order_by(ImageRepository.id)
        )
        return list(ids)
