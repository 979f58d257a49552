"""Queries of alert incidents (bot/incidents.py decides what they mean)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import IncidentKind
from storage.models import AlertIncident


async def open_of_kind(
    session: AsyncSession, repository_id: int, kind: IncidentKind
) -> AlertIncident | None:
    """The repository's latest incident of `kind` that has not ended, if any."""
    found = await session.scalars(
        select(AlertIncident)
        .where(
            AlertIncident.repository_id == repository_id,
            AlertIncident.kind == kind.value,
            AlertIncident.ended_at.is_(None),
        )
        .order_by(AlertIncident.id.desc())
        .limit(1)
    )
    return found.first()
