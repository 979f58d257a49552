"""Who may do what, and the one sentence that refuses each thing: the only home of both.

Use cases ask this module before they act; the UI learns what to offer from the
rights a use case returns (e.g. `EntryRights` on each row of the list), so no
listener decides a permission or words a refusal of its own.

Roles (docs/security.md): a workspace admin or owner is an admin of every project;
a project admin administers one project; whoever added an entry may change its account.

Where a request comes from matters too (`Place`): an id Slack sends back is only
trusted for the channel whose project holds it, or, on the App Home tab (which
belongs to no channel), for projects the user administers or added to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.usecases.actor import Actor
from bot.usecases.errors import N_, NotFound, PermissionDenied
from registry import TOOL_TYPES, tool_kind
from storage import projects, repositories
from storage.models import ImageRepository, Project, ToolGrant

ASK_AN_ADMIN = N_(
    "Ask one of them, or ask to be made an admin with `/imagerepo project admin add`."
)

# Entries and projects the request may not see are refused exactly like deleted ones:
# the answer never tells a stranger that an id exists.
ENTRY_NOT_FOUND = N_("That repository is no longer in this project's list.")
PROJECT_NOT_FOUND = N_("That project no longer exists.")


class ProjectAction(StrEnum):
    """Things only a project's admins (or workspace admins) may do, with how a refusal says it."""

    DELETE = "delete repositories"
    SAVE_FAILING = "save a repository whose test fails"
    ADD_ADMINS = "add admins"
    REMOVE_ADMINS = "remove admins"
    READ_AUDIT = "read this project's audit trail"
    SET_LANGUAGE = "change the language of its channel messages"


# Each refusal as one whole sentence, so that the handlers can show it in the person's
# language (handlers.ui.i18n.translate, sentence by sentence); English as before.
_ONLY_ADMINS_CAN = {
    ProjectAction.DELETE: N_(
        "Only this project's admins (or workspace admins) can delete repositories."
    ),
    ProjectAction.SAVE_FAILING: N_(
        "Only this project's admins (or workspace admins) can save a repository whose test fails."
    ),
    ProjectAction.ADD_ADMINS: N_(
        "Only this project's admins (or workspace admins) can add admins."
    ),
    ProjectAction.REMOVE_ADMINS: N_(
        "Only this project's admins (or workspace admins) can remove admins."
    ),
    ProjectAction.READ_AUDIT: N_(
        "Only this project's admins (or workspace admins) can read this project's audit trail."
    ),
    ProjectAction.SET_LANGUAGE: N_(
        "Only this project's admins (or workspace admins) can change the language of its "
        "channel messages."
    ),
}


def refusal(action: ProjectAction) -> str:
    return f"{_ONLY_ADMINS_CAN[action]} {ASK_AN_ADMIN}"


REFUSE_CHANGE_ACCOUNT = N_(
    "Only this project's admins or the person who added the repository can change its account."
)
REFUSE_TOOLS = N_("Only workspace admins and owners can register, test, edit or remove tools.")
REFUSE_GRANTS = N_("Only workspace admins and owners can see or change where a tool is granted.")


@dataclass(frozen=True)
class Place:
    """Where a request came from: a channel (its id), or the App Home tab (`channel_id` None)."""

    channel_id: str | None

    @classmethod
    def home(cls) -> Place:
        return cls(None)

    @classmethod
    def channel(cls, channel_id: str) -> Place:
        return cls(channel_id)

    @property
    def is_home(self) -> bool:
        return self.channel_id is None


@dataclass(frozen=True)
class EntryRights:
    """What the acting user may do with one saved entry they may see."""

    may_test: bool
    may_change_account: bool
    may_delete: bool


class EntryAction(StrEnum):
    """What a list row's menu (or a modal opened from it) does with a saved entry."""

    TEST = "test"
    CHANGE_ACCOUNT = "change_account"
    DELETE = "delete"


def entry_refusal(action: EntryAction) -> str:
    if action is EntryAction.DELETE:
        return refusal(ProjectAction.DELETE)
    if action is EntryAction.CHANGE_ACCOUNT:
        return REFUSE_CHANGE_ACCOUNT
    return ENTRY_NOT_FOUND  # whoever may see an entry may test it


def allows(rights: EntryRights, action: EntryAction) -> bool:
    return {
        EntryAction.TEST: rights.may_test,
        EntryAction.CHANGE_ACCOUNT: rights.may_change_account,
        EntryAction.DELETE: rights.may_delete,
    }[action]


def require_entry(rights: EntryRights, action: EntryAction) -> None:
    if not allows(rights, action):
        raise PermissionDenied(entry_refusal(action))


def entry_rights(actor: Actor, *, project_admin: bool, added_by: str) -> EntryRights:
    """The rules, without the database: `project_admin` already counts workspace admins.

    Anyone who may see an entry may run its Connection Test (it changes nothing but
    the history); its account: project admins or whoever added it; delete: admins.
    """
    return EntryRights(
        may_test=True,
        may_change_account=project_admin or added_by == actor.user_id,
        may_delete=project_admin,
    )


def may_manage_tools(actor: Actor) -> bool:
    """Registered tools hold an account every project uses: workspace admins only."""
    return actor.is_workspace_admin


def require_tools_admin(actor: Actor) -> None:
    if not may_manage_tools(actor):
        raise PermissionDenied(REFUSE_TOOLS)


def require_grants_admin(actor: Actor) -> None:
    """Grants decide where a tool's account is spent: workspace admins only."""
    if not may_manage_tools(actor):
        raise PermissionDenied(REFUSE_GRANTS)


# -- whose account a request spends (DESIGN.md "Registered tools: whose account, and where")
#
# A registered tool (any of `registry.TOOL_TYPES`) holds an account with rights over many teams'
# repositories. It is spent (Connection Test, re-check, Create new, delete in IR, the
# robot-expiry lookup) only for a repository inside a namespace a workspace admin granted
# to the entry's project. Everywhere else a request through the tool carries the account
# its user typed and nothing more: the target is built without the tool's account, so no
# driver can reach for it. Creating a project, being its admin, typing any username and
# password, or ticking "Save even if the connection test fails" changes none of this.

NAMESPACE = re.compile(r"^(\*|[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*(/|\*|/\*)?)$")
MAX_NAMESPACE = 255


def namespace_problem(namespace: str) -> str | None:
    """What is wrong with a namespace a workspace admin typed (None: fine)."""
    if not namespace:
        kinds = ", ".join(f"{tool_kind(t).label} {tool_kind(t).namespace}" for t in TOOL_TYPES)
        return f"Enter a namespace, e.g. team-a (a {kinds})."
    if len(namespace) > MAX_NAMESPACE:
        return f"At most {MAX_NAMESPACE} characters."
    if not NAMESPACE.match(namespace):
        return (
            "Lowercase path components joined by /, e.g. team-a, team-a/ or group/subgroup; "
            "a trailing * covers names starting so (team-*), * alone the whole tool."
        )
    return None


def normalize_namespace(namespace: str) -> str:
    return namespace.strip().lower()


def covers(namespace: str, repository: str) -> bool:
    """Whether a granted namespace covers a repository path: `team-a` and `team-a/` cover
    `team-a/...` (never `team-ab/...`), `team-*` covers names starting `team-`, `*` all."""
    name = repository.strip().lower()
    if not name or namespace_problem(namespace) or "//" in name or name.startswith("/"):
        return False
    if namespace.endswith("*"):
        return name.startswith(namespace[:-1])
    root = namespace.rstrip("/")
    return name == root or name.startswith(root + "/")


@dataclass(frozen=True)
class ToolAccount:
    """Whether a request through a registered tool may spend the tool's own account."""

    granted: bool
    namespace: str | None = None  # the grant that allows it

    @property
    def audit_note(self) -> str:
        if self.granted:
            return f"tool account (granted {self.namespace})"
        return "own account only (tool not granted here)"


def tool_account(grants: Iterable[ToolGrant], tool_id: int | None, repository: str) -> ToolAccount:
    """THE decision: `grants` are the entry's project's (Project.tool_grants, read with the
    project, so a grant or a removal takes effect on the next request)."""
    if tool_id is None:
        return ToolAccount(False)
    for grant in grants:
        if grant.tool_id == tool_id and covers(grant.namespace, repository):
            return ToolAccount(True, grant.namespace)
    return ToolAccount(False)


def not_granted(tool_name: str, repository: str) -> str:
    """Why the tool's account was not used, worded for the person who asked."""
    return (
        f"The registered tool {tool_name} is not granted to this project for {repository}, "
        "so its account is not used here; only an account of your own that passes its test "
        "works (or ask a workspace admin to grant the namespace in `/imagerepo tools`)."
    )


NEEDS_ACCOUNT = "needs an account: the tool is not granted here"


async def is_project_admin(session: AsyncSession, actor: Actor, project_id: int) -> bool:
    return actor.is_workspace_admin or await projects.is_admin(session, project_id, actor.user_id)


async def require_project_admin(
    session: AsyncSession, actor: Actor, project_id: int, action: ProjectAction
) -> None:
    if not await is_project_admin(session, actor, project_id):
        raise PermissionDenied(refusal(action))


async def may_see_project(
    session: AsyncSession, actor: Actor, place: Place, project: Project
) -> bool:
    """A channel sees its own project only; Home sees the projects it lists
    (`home.team_projects`): all for workspace admins, else administered or added to."""
    if project.team_id != actor.team_id:
        return False
    if not place.is_home:
        return project.channel_id == place.channel_id
    return await is_project_admin(session, actor, project.id) or await repositories.added_any(
        session, project.id, actor.user_id
    )


async def require_project_visible(
    session: AsyncSession, actor: Actor, place: Place, project: Project | None
) -> Project:
    if project is None or not await may_see_project(session, actor, place, project):
        raise NotFound(PROJECT_NOT_FOUND)
    return project


async def require_entry_visible(
    session: AsyncSession, actor: Actor, place: Place, row: ImageRepository | None
) -> ImageRepository:
    if row is None or not await may_see_project(session, actor, place, row.project):
        raise NotFound(ENTRY_NOT_FOUND)
    return row


async def rights_on(session: AsyncSession, actor: Actor, row: ImageRepository) -> EntryRights:
    """The rights on an entry already known to be visible to this request."""
    admin = await is_project_admin(session, actor, row.project_id)
    return entry_rights(actor, project_admin=admin, added_by=row.added_by)
