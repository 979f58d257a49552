"""What the App Home tab and the list's menus need: the team's projects, a project's page,
and what the acting user may do with one repository (to refuse before opening a modal)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.errors import NotFound
from bot.usecases.projects import is_project_admin
from bot.usecases.repositories import RepositoryPage, RepositoryRow, page_of, row_view
from storage import repositories
from storage.errors import NotFoundError
from storage.models import ImageRepository, Project, ProjectAdmin


@dataclass(frozen=True)
class ProjectEntry:
    id: int
    name: str
    channel_id: str


@dataclass(frozen=True)
class RepositoryAccessRights:
    row: RepositoryRow
    can_change_account: bool
    can_delete: bool


async def team_projects(rt: Runtime, actor: Actor) -> list[ProjectEntry]:
    """The projects the Home tab shows this user, by name.

    Home is not tied to a channel, so it must not reveal the projects of channels
    the user may not be in: a workspace admin sees every project; anyone else the
    projects they administer or added a repository to. The channel's own
    `/imagerepo list` shows its project to everyone in the channel.
    """
    query = select(Project).where(Project.team_id == actor.team_id).order_by(Project.name)
    if not actor.is_workspace_admin:
        query = query.where(
            or_(
                Project.id.in_(
                    select(ProjectAdmin.project_id).where(ProjectAdmin.user_id == actor.user_id)
                ),
                Project.id.in_(
                    select(ImageRepository.project_id).where(
                        ImageRepository.added_by == actor.user_id
                    )
                ),
            )
        )
    async with rt.sessions() as session:
        rows = await session.scalars(query)
        return [ProjectEntry(id=p.id, name=p.name, channel_id=p.channel_id) for p in rows]


async def project_page(
    rt: Runtime, team_id: str, project_id: int, page: int = 1
) -> tuple[ProjectEntry, RepositoryPage]:
    async with rt.sessions() as session:
        project = await session.get(Project, project_id)
        if project is None or project.team_id != team_id:
            raise NotFound("That project no longer exists.")
        entry = ProjectEntry(id=project.id, name=project.name, channel_id=project.channel_id)
        return entry, await page_of(session, project, page)


async def rights(rt: Runtime, actor: Actor, repository_id: int) -> RepositoryAccessRights:
    """Change account: project admins or whoever added it. Delete: project admins."""
    async with rt.sessions() as session:
        try:
            row = await repositories.get(session, repository_id)
        except NotFoundError as error:
            raise NotFound(str(error)) from None
        if row.project.team_id != actor.team_id:
            raise NotFound("That repository is no longer in this project's list.")
        admin = await is_project_admin(session, actor, row.project_id)
        return RepositoryAccessRights(
            row=row_view(row),
            can_change_account=admin or row.added_by == actor.user_id,
            can_delete=admin,
        )
