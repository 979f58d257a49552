"""Tool grants: which project may spend which registered tool's own account, and where.

Only queries live here; what a grant means (which repositories a namespace covers, and
whose account a request spends) is decided in bot/usecases/permissions.py.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFoundError
from storage.models import Project, ToolGrant
from storage.unique import insert_unique


async def of_tool(session: AsyncSession, tool_id: int) -> list[tuple[ToolGrant, Project]]:
    """A tool's grants with their projects, by project name then namespace."""
    rows = await session.execute(
        select(ToolGrant, Project)
        .join(Project, Project.id == ToolGrant.project_id)
        .where(ToolGrant.tool_id == tool_id)
        .order_by(Project.name, ToolGrant.namespace)
    )
    return [(grant, project) for grant, project in rows.all()]


async def add(
    session: AsyncSession, *, tool_id: int, project_id: int, namespace: str, granted_by: str
) -> ToolGrant:
    grant = ToolGrant(
        tool_id=tool_id, project_id=project_id, namespace=namespace, granted_by=granted_by
    )
    await insert_unique(
        session,
        grant,
        clash=select(ToolGrant.id).where(
            ToolGrant.tool_id == tool_id,
            ToolGrant.project_id == project_id,
            ToolGrant.namespace == namespace,
        ),
        message=f"{namespace} is granted to that project already.",
    )
    return grant


async def get(session: AsyncSession, grant_id: int, *, tool_id: int) -> ToolGrant:
    grant = await session.scalar(
        select(ToolGrant).where(ToolGrant.id == grant_id, ToolGrant.tool_id == tool_id)
    )
    if grant is None:
        raise NotFoundError("That grant was removed meanwhile.")
    return grant


async def remove(session: AsyncSession, grant: ToolGrant) -> None:
    await session.delete(grant)
