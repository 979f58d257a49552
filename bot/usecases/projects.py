"""Projects: bind a channel and manage its admins (who may: bot.usecases.permissions)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot import audit
from bot.audit import Action
from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.errors import N_, Conflict, InvalidInput, NoProject
from bot.usecases.permissions import ProjectAction, require_project_admin
from storage import projects
from storage.db import transaction
from storage.errors import DuplicateError
from storage.models import Project

PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
# A public or private channel's id as Slack writes it; a DM ("D…") or a forged value
# cannot hold a project (its alerts would have nowhere to go).
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{1,31}$")
NO_PROJECT = N_(
    "This channel has no image repository project yet. "
    "Create one with `/imagerepo project create NAME`."
)


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    team_id: str
    channel_id: str
    admin_ids: tuple[str, ...]
    language: str = "en"


# The languages a project's channel messages can be in (handlers.ui.i18n.LANGUAGES).
LANGUAGES = ("en", "ko")


def _info(project: Project, admin_ids: list[str]) -> ProjectInfo:
    return ProjectInfo(
        id=project.id,
        name=project.name,
        team_id=project.team_id,
        channel_id=project.channel_id,
        admin_ids=tuple(admin_ids),
        language=project.language or "en",
    )


async def create_project(
    rt: Runtime, actor: Actor, *, channel_id: str, name: str, language: str = "en"
) -> ProjectInfo:
    """Bind a new project to the channel; its channel messages speak `language` (the
    creator's, until an admin changes it)."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.PROJECT_CREATE, channel_id=channel_id)
    ):
        name = name.strip()
        language = language if language in LANGUAGES else "en"
        if not CHANNEL_ID.match(channel_id):
            raise InvalidInput({"channel": N_("Run `/imagerepo project create` in a channel.")})
        if not PROJECT_NAME.match(name):
            raise InvalidInput(
                {
                    "name": N_(
                        "A project name is 1-80 letters, digits, '.', '_' or '-', "
                        "e.g. payments-api."
                    )
                }
            )
        try:
            async with transaction(rt.sessions) as session:
                project = await projects.create(
                    session,
                    team_id=actor.team_id,
                    channel_id=channel_id,
                    name=name,
                    created_by=actor.user_id,
                    language=language,
                )
                await audit.record(
                    session, audit.for_project(rt, actor, Action.PROJECT_CREATE, name)
                )
        except DuplicateError as error:
            raise Conflict(str(error)) from None
        return _info(project, [actor.user_id])


async def set_language(rt: Runtime, actor: Actor, *, channel_id: str, language: str) -> bool:
    """Change the language of the project's channel messages (its admins); audited.
    False when it was that language already."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.PROJECT_LANGUAGE, channel_id=channel_id)
    ):
        if language not in LANGUAGES:
            raise InvalidInput(
                {"language": N_("Say ko or en, e.g. `/imagerepo project language ko`.")}
            )
        async with transaction(rt.sessions) as session:
            project = await load_project(session, actor.team_id, channel_id)
            await require_project_admin(session, actor, project.id, ProjectAction.SET_LANGUAGE)
            changed = await projects.set_language(session, project, language)
            await audit.record(
                session,
                audit.for_project(rt, actor, Action.PROJECT_LANGUAGE, project, detail=language),
            )
            return changed


async def load_project(session: AsyncSession, team_id: str, channel_id: str) -> Project:
    project = await projects.get_by_channel(session, team_id, channel_id)
    if project is None:
        raise NoProject(NO_PROJECT)
    return project


async def get_project(rt: Runtime, *, team_id: str, channel_id: str) -> ProjectInfo:
    async with rt.sessions() as session:
        project = await load_project(session, team_id, channel_id)
        return _info(project, await projects.admin_ids(session, project.id))


@asynccontextmanager
async def _admin_change(
    rt: Runtime, actor: Actor, channel_id: str, action: Action, right: ProjectAction
) -> AsyncIterator[tuple[AsyncSession, Project]]:
    """The channel's project, in one transaction, for one of its admins; a refusal
    (no project, not an admin) is recorded as a refused `action`."""
    async with (
        audit.attempt(rt, actor, audit.Attempt(action=action, channel_id=channel_id)),
        transaction(rt.sessions) as session,
    ):
        project = await load_project(session, actor.team_id, channel_id)
        await require_project_admin(session, actor, project.id, right)
        yield session, project


async def add_admin(rt: Runtime, actor: Actor, *, channel_id: str, user_id: str) -> bool:
    change = _admin_change(rt, actor, channel_id, Action.ADMIN_ADD, ProjectAction.ADD_ADMINS)
    async with change as (session, project):
        changed = await projects.add_admin(session, project.id, user_id, actor.user_id)
        await audit.record(
            session, audit.for_project(rt, actor, Action.ADMIN_ADD, project, detail=user_id)
        )
        return changed


async def remove_admin(rt: Runtime, actor: Actor, *, channel_id: str, user_id: str) -> bool:
    change = _admin_change(rt, actor, channel_id, Action.ADMIN_REMOVE, ProjectAction.REMOVE_ADMINS)
    async with change as (session, project):
        admins = await projects.admin_ids(session, project.id)
        if admins == [user_id]:
            raise Conflict(
                N_("A project keeps at least one admin: add another before removing this one.")
            )
        changed = await projects.remove_admin(session, project.id, user_id)
        await audit.record(
            session, audit.for_project(rt, actor, Action.ADMIN_REMOVE, project, detail=user_id)
        )
        return changed
