"""What the App Home tab and the list's pages need: the projects a user may see, and a page
of one of them (with what the user may do with each row)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.runtime import Runtime
from bot.usecases import permissions
from bot.usecases.actor import Actor
from bot.usecases.permissions import Place
from bot.usecases.repositories import RepositoryPage, page_of
from storage import projects
from storage.models import Project


@dataclass(frozen=True)
class ProjectEntry:
    id: int
    name: str
    channel_id: str


async def team_projects(rt: Runtime, actor: Actor) -> list[ProjectEntry]:
    """The projects the Home tab shows this user, by name.

    Home is not tied to a channel, so it must not reveal the projects of channels
    the user may not be in: a workspace admin sees every project; anyone else the
    projects they administer or added a repository to. The channel's own
    `/imagerepo list` shows its project to everyone in the channel.
    """
    async with rt.sessions() as session:
        rows = await projects.of_team(
            session, actor.team_id, user_id=None if actor.is_workspace_admin else actor.user_id
        )
        return [ProjectEntry(id=p.id, name=p.name, channel_id=p.channel_id) for p in rows]


async def project_page(
    rt: Runtime, actor: Actor, place: Place, project_id: int, page: int = 1
) -> tuple[ProjectEntry, RepositoryPage]:
    """A page of a project's list (Previous / Next, the Home select), only for a project
    this request may see from where it came: an id from another channel is NotFound."""
    async with rt.sessions() as session:
        project = await permissions.require_project_visible(
            session, actor, place, await session.get(Project, project_id)
        )
        entry = ProjectEntry(id=project.id, name=project.name, channel_id=project.channel_id)
        return entry, await page_of(session, actor, project, page)
