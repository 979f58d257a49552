"""Reading the audit trail: a project's records for its admins, the workspace's for Home,
and the retention pruning the scheduler runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.permissions import ProjectAction, require_project_admin
from bot.usecases.projects import load_project
from storage import audit
from storage.db import transaction
from storage.models import AuditRecord

PAGE_SIZE = 15
HOME_LIMIT = 10


@dataclass(frozen=True)
class AuditRow:
    """One record as people read it (it never held a secret to begin with)."""

    seq: int
    occurred_at: datetime
    user_id: str
    user_name: str
    action: str
    project: str | None
    target_type: str | None
    target_url: str | None
    target_repository: str | None
    outcome: str
    error_kind: str | None
    detail: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class AuditPage:
    project_name: str
    rows: tuple[AuditRow, ...]
    page: int
    pages: int
    total: int


def row_view(record: AuditRecord) -> AuditRow:
    """The record's readable fields, copied by name: AuditRow names a subset of the columns."""
    return AuditRow(**{f.name: getattr(record, f.name) for f in fields(AuditRow)})


async def project_trail(rt: Runtime, actor: Actor, *, channel_id: str, page: int = 1) -> AuditPage:
    """The channel's project's records, newest first, for its admins only."""
    async with rt.sessions() as session:
        project = await load_project(session, actor.team_id, channel_id)
        await require_project_admin(session, actor, project.id, ProjectAction.READ_AUDIT)
        total = await audit.count(session, team_id=actor.team_id, project=project.name)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(max(page, 1), pages)
        rows = await audit.records(
            session,
            team_id=actor.team_id,
            project=project.name,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        return AuditPage(
            project_name=project.name,
            rows=tuple(row_view(r) for r in rows),
            page=page,
            pages=pages,
            total=total,
        )


async def recent_for_home(rt: Runtime, actor: Actor, limit: int = HOME_LIMIT) -> list[AuditRow]:
    """Every project's latest records of the workspace, for workspace admins; [] for others."""
    if not actor.is_workspace_admin:
        return []
    async with rt.sessions() as session:
        rows = await audit.records(session, team_id=actor.team_id, limit=limit)
    return [row_view(r) for r in rows]


async def prune_expired(rt: Runtime) -> int:
    """Delete records older than IMAGEREPO_AUDIT_RETENTION_DAYS (the chain stays verifiable)."""
    cutoff = datetime.now(UTC) - timedelta(days=rt.settings.audit_retention_days)
    async with transaction(rt.sessions) as session:
        return await audit.prune(session, cutoff)
