"""Projects (one per Slack channel) and their admins."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import DuplicateError
from storage.models import ImageRepository, Project, ProjectAdmin
from storage.unique import insert_unique


async def get_by_channel(session: AsyncSession, team_id: str, channel_id: str) -> Project | None:
    return await session.scalar(
        select(Project).where(Project.team_id == team_id, Project.channel_id == channel_id)
    )


async def get_by_name(session: AsyncSession, team_id: str, name: str) -> Project | None:
    return await session.scalar(
        select(Project).where(Project.team_id == team_id, Project.name == name)
    )


async def get(session: AsyncSession, project_id: int) -> Project | None:
    return await session.get(Project, project_id)


async def create(
    session: AsyncSession,
    *,
    team_id: str,
    channel_id: str,
    name: str,
    created_by: str,
    language: str = "en",
) -> Project:
    """Create a project bound to the channel, its creator its first admin."""
    if await get_by_channel(session, team_id, channel_id) is not None:
        raise DuplicateError("This channel already has a project.")
    project = Project(
        team_id=team_id,
        channel_id=channel_id,
        name=name,
        created_by=created_by,
        language=language,
    )
    project.admins.append(ProjectAdmin(user_id=created_by, added_by=created_by))
    await insert_unique(
        session,
        project,
        clash=select(Project.id).where(Project.team_id == team_id, Project.name == name),
        message=f"A project named {name!r} exists already in another channel.",
        race_message="This channel or project name was taken a moment ago.",
    )
    return project


async def set_language(session: AsyncSession, project: Project, language: str) -> bool:
    """The language of the project's channel messages; False when it was that already."""
    if project.language == language:
        return False
    project.language = language
    await session.flush()
    return True


async def is_admin(session: AsyncSession, project_id: int, user_id: str) -> bool:
    found = await session.scalar(
        select(ProjectAdmin.user_id).where(
            ProjectAdmin.project_id == project_id, ProjectAdmin.user_id == user_id
        )
    )
    return found is not None


async def add_admin(session: AsyncSession, project_id: int, user_id: str, added_by: str) -> bool:
    """Returns False when the user was an admin already (nothing to do)."""
    if await is_admin(session, project_id, user_id):
        return False
    session.add(ProjectAdmin(project_id=project_id, user_id=user_id, added_by=added_by))
    await session.flush()
    return True


async def remove_admin(session: AsyncSession, project_id: int, user_id: str) -> bool:
    result = await session.execute(
        delete(ProjectAdmin).where(
            ProjectAdmin.project_id == project_id, ProjectAdmin.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def admin_ids(session: AsyncSession, project_id: int) -> list[str]:
    rows = await session.scalars(
        select(ProjectAdmin.user_id)
        .where(ProjectAdmin.project_id == project_id)
        .order_by(ProjectAdmin.added_at)
    )
    return list(rows)


async def of_team(
    session: AsyncSession, team_id: str, *, user_id: str | None = None
) -> list[Project]:
    """A team's projects by name; with `user_id`, only those the user administers or
    added a repository to."""
    query = select(Project).where(Project.team_id == team_id).order_by(Project.name)
    if user_id is not None:
        query = query.where(
            or_(
                Project.id.in_(
                    select(ProjectAdmin.project_id).where(ProjectAdmin.user_id == user_id)
                ),
                Project.id.in_(
                    select(ImageRepository.project_id).where(ImageRepository.added_by == user_id)
                ),
            )
        )
    return list(await session.scalars(query))
