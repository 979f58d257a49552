"""Registered tools: instances of the `registry.TOOL_TYPES` kinds that workspace admins
register for every project.

A tool holds an account (admin or robot) with its password, or, for a kind with a
`token_account` (`registry.kinds.ToolKind`), only an API token, stored under that fixed
account name so the registry layer sees the same `Credentials` shape for every kind."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncSession

from bot import audit
from bot.audit import Action
from bot.runtime import Runtime
from bot.usecases import permissions
from bot.usecases.actor import Actor
from bot.usecases.errors import Conflict, InvalidInput, NotFound
from bot.usecases.forms import MAX_SECRET, MAX_USERNAME, normalize_url, url_problem
from bot.usecases.repositories import ConnectionTestFailed, tool_secret, tool_target
from registry import (
    LEGACY_TOOL_KIND,
    ConnectionTestResult,
    RegistryError,
    is_tool_kind,
    origin_of,
    tool_kind,
    tool_kinds_text,
    tool_type_of,
    type_info,
)
from registry import RegisteredTool as ToolTarget
from storage import accounts, tools
from storage import grants as grants_store
from storage import projects as projects_store
from storage.accounts import EnteredAccount
from storage.db import transaction
from storage.errors import DuplicateError, NotFoundError
from storage.models import RegisteredTool

TOOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$")


class ToolField:
    NAME = "tool_name"
    URL = "tool_url"
    USERNAME = "username"
    SECRET = "secret"
    CA_BUNDLE = "ca_bundle"
    KIND = "tool_kind"


@dataclass(frozen=True)
class ToolForm:
    name: str
    url: str
    username: str | None
    secret: str | None = field(default=None, repr=False)
    ca_bundle_pem: str | None = field(default=None, repr=False)
    insecure: bool = False
    kind: str = LEGACY_TOOL_KIND.value


@dataclass(frozen=True)
class ToolInfo:
    id: int
    name: str
    url: str
    username: str | None
    tls_verify: bool
    has_ca_bundle: bool
    repositories: int
    kind: str = LEGACY_TOOL_KIND.value

    @property
    def kind_label(self) -> str:
        return type_info(self.kind).label

    @property
    def token_only(self) -> bool:
        """A token-only kind: an API token, no account of its own to show."""
        return tool_kind(self.kind).token_only


def tool_label(kind: str) -> str:
    """How forms and messages name a kind of tool (`ToolKind.label`)."""
    return tool_kind(kind).label


def _validated(form: ToolForm, *, keep_secret: bool = False) -> ToolForm:
    """`keep_secret`: editing, where a blank secret keeps the stored one."""
    errors: dict[str, str] = {}
    if not is_tool_kind(form.kind):
        raise InvalidInput({ToolField.KIND: f"Choose {tool_kinds_text()}."})
    name = form.name.strip()
    if not TOOL_NAME.match(name):
        errors[ToolField.NAME] = "1-80 letters, digits, spaces, '.', '_' or '-'."
    if problem := url_problem(form.url):
        errors[ToolField.URL] = problem
    username = (form.username or "").strip() or None
    token_account = tool_kind(form.kind).token_account
    if token_account is not None:
        # The token is the whole credential: a blank one keeps the saved one (editing).
        username = token_account
        if form.secret and len(form.secret) > MAX_SECRET:
            errors[ToolField.SECRET] = f"At most {MAX_SECRET} characters."
        elif not form.secret and not keep_secret:
            errors[ToolField.SECRET] = f"Enter the {tool_label(form.kind)} API token."
    else:
        if username and len(username) > MAX_USERNAME:
            errors[ToolField.USERNAME] = f"At most {MAX_USERNAME} characters."
        if form.secret and len(form.secret) > MAX_SECRET:
            errors[ToolField.SECRET] = f"At most {MAX_SECRET} characters."
        elif username and not form.secret and not keep_secret:
            errors[ToolField.SECRET] = "Enter the password or robot secret for this account."
        if form.secret and not username:
            errors[ToolField.USERNAME] = (
                "Enter the account name (robot accounts start with robot$)."
            )
    if errors:
        raise InvalidInput(errors)
    return ToolForm(
        name=name,
        url=normalize_url(form.url),
        username=username,
        secret=form.secret or None,
        ca_bundle_pem=(form.ca_bundle_pem or "").strip() or None,
        insecure=form.insecure,
        kind=form.kind,
    )


def _typed(form: ToolForm) -> audit.Typed:
    """What the tool form named, for the record of an attempt that saved nothing."""
    return audit.Typed(
        target_type=audit.tool_target_type(form.kind),
        target_url=form.url,
        detail=f"tool {form.name}".strip(),
        username=form.username,
        secret=form.secret,
    )


def validate_tool_form(form: ToolForm, *, editing: bool = False) -> ToolForm:
    """The checks that need no network, for a modal to show field errors at once."""
    return _validated(form, keep_secret=editing)


async def _info(rt: Runtime, row: RegisteredTool) -> ToolInfo:
    async with rt.sessions() as session:
        return (await _infos(session, [row]))[0]


async def _infos(session: AsyncSession, rows: Sequence[RegisteredTool]) -> list[ToolInfo]:
    """What lists and modals show of each tool, its users counted in one query."""
    used = await tools.users_by_tool(session, [row.id for row in rows])
    return [_described(row, used[row.id]) for row in rows]


def _described(row: RegisteredTool, used: int) -> ToolInfo:
    return ToolInfo(
        id=row.id,
        name=row.name,
        url=row.url,
        username=row.username,
        tls_verify=row.tls_verify,
        has_ca_bundle=bool(row.ca_bundle_pem),
        repositories=used,
        kind=tool_type_of(row.tool_type).value,
    )


def may_manage(actor: Actor) -> bool:
    """Whether the tools list offers this user its buttons and menus."""
    return permissions.may_manage_tools(actor)


async def start_registration(rt: Runtime, actor: Actor) -> None:
    """The `Register` button: refused (and recorded) before the form opens for
    non-admins."""
    async with audit.attempt(rt, actor, audit.Attempt(action=Action.TOOL_REGISTER)):
        permissions.require_tools_admin(actor)


async def tool_for_edit(
    rt: Runtime, actor: Actor, tool_id: int, *, purpose: str = Action.TOOL_EDIT
) -> ToolInfo:
    """A tool an admin is about to test, edit or remove (workspace admins only); a refusal
    is recorded as an attempt of `purpose` (an audit action).

    Tools belong to the workspace, not to a channel: the team is the only scope."""
    async with audit.attempt(rt, actor, audit.Attempt(action=str(purpose), tool_id=tool_id)):
        permissions.require_tools_admin(actor)
        row = await _team_tool(rt, actor, tool_id)
        return await _info(rt, row)


def _account(form: ToolForm, secret: str | None, ca_bundle_pem: str | None) -> EnteredAccount:
    """The form's account with the secret and CA bundle to use (an edit may keep the saved)."""
    return EnteredAccount(
        form.username, secret, tls_verify=not form.insecure, ca_bundle_pem=ca_bundle_pem
    )


def _candidate(rt: Runtime, form: ToolForm, account: EnteredAccount) -> ToolTarget:
    """The tool as the form describes it, to test before anything is saved."""
    candidate = RegisteredTool(tool_type=form.kind, name=form.name, url=form.url)
    accounts.store(rt.box, candidate, account)
    return tool_target(rt, candidate)


async def list_tools(rt: Runtime, actor: Actor) -> list[ToolInfo]:
    async with rt.sessions() as session:
        return await _infos(session, await tools.list_for_team(session, actor.team_id))


TOOLS_PAGE_SIZE = 20


@dataclass(frozen=True)
class ToolPage:
    tools: tuple[ToolInfo, ...]
    page: int
    pages: int
    total: int


async def tools_page(rt: Runtime, actor: Actor, page: int = 1) -> ToolPage:
    """One page of `/imagerepo tools` (a page out of range is clamped, so a stale
    Previous / Next still shows something)."""
    async with rt.sessions() as session:
        total = await tools.count_for_team(session, actor.team_id)
        pages = max(1, math.ceil(total / TOOLS_PAGE_SIZE))
        page = min(max(page, 1), pages)
        rows = await tools.list_for_team(
            session,
            actor.team_id,
            offset=(page - 1) * TOOLS_PAGE_SIZE,
            limit=TOOLS_PAGE_SIZE,
        )
        infos = await _infos(session, rows)
    return ToolPage(tuple(infos), page, pages, total)


async def register_tool(rt: Runtime, actor: Actor, form: ToolForm) -> ToolInfo:
    """Test the instance with its account first; a tool that does not answer is not saved."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.TOOL_REGISTER, typed=_typed(form))
    ):
        permissions.require_tools_admin(actor)
        form = _validated(form)
        account = _account(form, form.secret, form.ca_bundle_pem)
        result = await rt.registry.test_tool(_candidate(rt, form, account))
        if not result.ok:
            raise ConnectionTestFailed(result, " The tool was not registered.")
        try:
            async with transaction(rt.sessions) as session:
                row = await tools.add(
                    session,
                    rt.box,
                    team_id=actor.team_id,
                    name=form.name,
                    url=form.url,
                    account=account,
                    created_by=actor.user_id,
                    tool_type=form.kind,
                )
                await audit.record(session, audit.for_tool(rt, actor, Action.TOOL_REGISTER, row))
        except DuplicateError as error:
            raise InvalidInput({ToolField.NAME: str(error)}) from None
        return await _info(rt, row)


async def update_tool(rt: Runtime, actor: Actor, tool_id: int, form: ToolForm) -> ToolInfo:
    """A blank secret keeps the stored one, but only for the same URL: a stored secret
    is never sent to a URL it was not entered for. The kind never changes (saved entries
    of that type use the tool): register a new tool instead."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.TOOL_EDIT, tool_id=tool_id, typed=_typed(form))
    ):
        permissions.require_tools_admin(actor)
        async with rt.sessions() as session:
            row = await _tool_in(session, actor, tool_id)
            kind = tool_type_of(row.tool_type).value
            form = _validated(
                replace(form, secret=form.secret or None, kind=kind), keep_secret=True
            )
            secret = form.secret
            if secret is None and form.username:
                if form.url != row.url:
                    raise InvalidInput(
                        {ToolField.SECRET: "The URL changed: enter the password or secret again."}
                    )
                secret = tool_secret(rt, row)
            # A blank CA bundle keeps the saved one (the modal cannot show it to edit).
            account = _account(form, secret, form.ca_bundle_pem or row.ca_bundle_pem)
        result = await rt.registry.test_tool(_candidate(rt, form, account))
        if not result.ok:
            raise ConnectionTestFailed(result, " The tool was not changed.")
        async with transaction(rt.sessions) as session:
            row = await _tool_in(session, actor, tool_id)  # removed while it was tested?
            if origin_of(form.url) != origin_of(row.url) and tool_kind(kind).serves_registry:
                # Saved entries never follow a tool to a new origin with their passwords:
                # pinned ones refuse it already; pin the others to the old URL, so each
                # needs its password entered again (Change account) to use the new one.
                # (A tool that does not serve its registry is an API host, never where
                # entries send passwords.)
                await tools.pin_unpinned_users(session, row.id, origin_of(row.url))
            row.name = form.name
            row.url = form.url
            accounts.store(rt.box, row, account)
            await audit.record(session, audit.for_tool(rt, actor, Action.TOOL_EDIT, row))
        return await _info(rt, row)


async def remove_tool(rt: Runtime, actor: Actor, tool_id: int) -> str:
    async with audit.attempt(rt, actor, audit.Attempt(action=Action.TOOL_REMOVE, tool_id=tool_id)):
        permissions.require_tools_admin(actor)
        async with transaction(rt.sessions) as session:
            try:
                row = await tools.get(session, tool_id, team_id=actor.team_id)
                await tools.remove(session, row)
                await audit.record(session, audit.for_tool(rt, actor, Action.TOOL_REMOVE, row))
            except NotFoundError as error:
                raise NotFound(str(error)) from None
            except DuplicateError as error:
                raise Conflict(str(error)) from None
            return row.name


async def _team_tool(rt: Runtime, actor: Actor, tool_id: int) -> RegisteredTool:
    """The actor's workspace's tool `tool_id` (NotFound for any other)."""
    async with rt.sessions() as session:
        return await _tool_in(session, actor, tool_id)


async def _tool_in(session: AsyncSession, actor: Actor, tool_id: int) -> RegisteredTool:
    """`_team_tool` in the caller's session (or transaction)."""
    try:
        return await tools.get(session, tool_id, team_id=actor.team_id)
    except NotFoundError as error:
        raise NotFound(str(error)) from None


async def test_tool(rt: Runtime, actor: Actor, tool_id: int) -> ConnectionTestResult:
    """A registered tool's Connection Test uses its admin account: workspace admins only."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.CONNECTION_TEST, tool_id=tool_id)
    ):
        permissions.require_tools_admin(actor)
        row = await _team_tool(rt, actor, tool_id)
        result = await rt.registry.test_tool(tool_target(rt, row))
        await audit.connection_tested(
            rt, actor, result, audit.Attempt(action=Action.CONNECTION_TEST, tool_id=tool_id)
        )
        return result


async def namespace_choices(
    rt: Runtime, actor: Actor, tool_id: int, query: str = "", *, channel_id: str | None = None
) -> list[str]:
    """Namespaces offered in the add modal's picker (`ToolKind.namespace_picker`; a tool
    may hold thousands), as its external select asks for them.

    Listing spends the tool's account, so it runs only for the modal's project when a
    grant of this tool covers some namespace there, and offers only the projects those
    grants cover (the names of other teams' projects are not shown)."""
    async with rt.sessions() as session:
        try:
            row = await tools.get(session, tool_id, team_id=actor.team_id)
        except NotFoundError:
            return []
        project = (
            await projects_store.get_by_channel(session, actor.team_id, channel_id)
            if channel_id
            else None
        )
        namespaces = [
            g.namespace for g in (project.tool_grants if project else ()) if g.tool_id == row.id
        ]
    if tool_kind(tool_type_of(row.tool_type)).namespace_picker is None or not namespaces:
        return []
    try:
        names = await rt.registry.list_namespaces(tool_target(rt, row), query)
    except RegistryError:
        return []
    return [name for name in names if any(permissions.covers(ns, f"{name}/x") for ns in namespaces)]


# -- grants: where the tool's own account may be spent ----------------------------------


class GrantField:
    PROJECT = "grant_project"
    NAMESPACE = "grant_namespace"


@dataclass(frozen=True)
class GrantInfo:
    id: int
    project_name: str
    namespace: str
    granted_by: str


@dataclass(frozen=True)
class ToolGrants:
    tool: ToolInfo
    grants: tuple[GrantInfo, ...]


async def tool_grants(rt: Runtime, actor: Actor, tool_id: int) -> ToolGrants:
    """A tool's grants, for the Grants modal (workspace admins only)."""
    async with audit.attempt(rt, actor, audit.Attempt(action=Action.TOOL_GRANT, tool_id=tool_id)):
        permissions.require_grants_admin(actor)
        row = await _team_tool(rt, actor, tool_id)
        async with rt.sessions() as session:
            found = await grants_store.of_tool(session, row.id)
            infos = tuple(
                GrantInfo(g.id, project.name, g.namespace, g.granted_by) for g, project in found
            )
        return ToolGrants(await _info(rt, row), infos)


async def add_grant(
    rt: Runtime, actor: Actor, tool_id: int, *, project_name: str, namespace: str
) -> ToolGrants:
    """Grant the tool's account to a project for a namespace; audited with both."""
    async with audit.attempt(rt, actor, audit.Attempt(action=Action.TOOL_GRANT, tool_id=tool_id)):
        permissions.require_grants_admin(actor)
        namespace = permissions.normalize_namespace(namespace)
        errors: dict[str, str] = {}
        if problem := permissions.namespace_problem(namespace):
            errors[GrantField.NAMESPACE] = problem
        project_name = project_name.strip()
        if not project_name:
            errors[GrantField.PROJECT] = "Enter the project's name."
        if errors:
            raise InvalidInput(errors)
        async with transaction(rt.sessions) as session:
            row = await _tool_in(session, actor, tool_id)
            project = await projects_store.get_by_name(session, actor.team_id, project_name)
            if project is None:
                raise InvalidInput(
                    {GrantField.PROJECT: f"No project named {project_name!r} in this workspace."}
                )
            try:
                await grants_store.add(
                    session,
                    tool_id=row.id,
                    project_id=project.id,
                    namespace=namespace,
                    granted_by=actor.user_id,
                )
            except DuplicateError as error:
                raise InvalidInput({GrantField.NAMESPACE: str(error)}) from None
            await audit.record(
                session,
                audit.for_tool(
                    rt,
                    actor,
                    Action.TOOL_GRANT,
                    row,
                    project=project.name,
                    target_repository=namespace,
                    detail=f"tool {row.name} granted to {project.name} for {namespace}",
                ),
            )
        return await tool_grants(rt, actor, tool_id)


async def remove_grant(rt: Runtime, actor: Actor, tool_id: int, grant_id: int) -> ToolGrants:
    """Take a grant back: the tool's account stops being spent there at the next request."""
    async with audit.attempt(rt, actor, audit.Attempt(action=Action.TOOL_UNGRANT, tool_id=tool_id)):
        permissions.require_grants_admin(actor)
        async with transaction(rt.sessions) as session:
            try:
                row = await tools.get(session, tool_id, team_id=actor.team_id)
                grant = await grants_store.get(session, grant_id, tool_id=row.id)
            except NotFoundError as error:
                raise NotFound(str(error)) from None
            project = await projects_store.get(session, grant.project_id)
            project_name = project.name if project is not None else "?"
            namespace = grant.namespace
            await grants_store.remove(session, grant)
            await audit.record(
                session,
                audit.for_tool(
                    rt,
                    actor,
                    Action.TOOL_UNGRANT,
                    row,
                    project=project_name,
                    target_repository=namespace,
                    detail=f"tool {row.name} no longer granted to {project_name} for {namespace}",
                ),
            )
        return await tool_grants(rt, actor, tool_id)
