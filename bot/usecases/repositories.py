"""Image repositories of a project: test, save, list, re-test, change account, delete."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import audit, notices, outbox
from bot.audit import Action
from bot.runtime import Runtime
from bot.usecases import health, permissions
from bot.usecases.actor import Actor
from bot.usecases.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RegistryOperationFailed,
    SecretUnavailable,
    UseCaseError,
)
from bot.usecases.forms import (
    MAX_SECRET,
    Creation,
    Field,
    RepositoryForm,
    fingerprint,
    normalize_url,
    url_problem,
    validate,
)
from bot.usecases.permissions import EntryAction, EntryRights, Place, ProjectAction
from bot.usecases.projects import load_project
from registry import (
    ConnectionTestResult,
    Credentials,
    ErrorKind,
    OriginPins,
    RegistryError,
    RegistryType,
    RepositoryTarget,
    TlsOptions,
    UrlCheckResult,
    origin_of,
    tool_type_of,
    type_info,
)
from registry import RegisteredTool as ToolTarget
from storage import projects as projects_store
from storage import repositories, tools
from storage.accounts import EnteredAccount
from storage.crypto import SecretKeyError
from storage.db import transaction
from storage.enums import CheckTrigger, RepositoryAccess
from storage.errors import DuplicateError, NotFoundError
from storage.models import ImageRepository, Project, RegisteredTool, utcnow
from storage.repositories import NewRepository

PAGE_SIZE = 20
# How long "these values just passed the Connection Test" lets Save skip the test: a
# registry, an account or a token can change meanwhile (security finding 14).
PASSED_TEST_TTL = 15 * 60.0
# A passing test stamped slightly in the future (another instance's clock) still counts.
CLOCK_SKEW = 60.0


class ConnectionTestFailed(UseCaseError):
    """Save or an account change was refused because the test failed; nothing was stored."""

    def __init__(self, result: ConnectionTestResult, note: str = "") -> None:
        super().__init__(f"Connection test failed: {result.message}{note}")
        self.result = result


@dataclass(frozen=True)
class RepositoryRow:
    """What the list and the modals show of a saved repository (never its secret)."""

    id: int
    project_id: int
    access: RepositoryAccess
    registry_type: RegistryType
    type_label: str
    registry_url: str
    repository: str
    username: str | None
    tool_name: str | None
    added_by: str
    health: str
    last_checked_at: datetime | None
    last_error_kind: str | None
    last_message: str | None
    can_delete_in_ir: bool
    # why the saved account cannot delete in the registry (said before the user confirms)
    delete_blocker: str | None = None
    # Alerts (bot/incidents.py): who snoozed them and until when; when the credential expires.
    snoozed_by: str | None = None
    snoozed_until: datetime | None = None
    snooze_until_recovered: bool = False
    credential_expires_at: datetime | None = None
    # Set (the list says it) for an entry through a registered tool that has no account of
    # its own while the tool is not granted for it: its checks cannot pass until a
    # workspace admin grants the namespace or someone enters an account (Change account).
    needs_account: str | None = None


NO_RIGHTS = EntryRights(may_test=True, may_change_account=False, may_delete=False)


@dataclass(frozen=True)
class RepositoryPage:
    project_id: int
    project_name: str
    rows: tuple[RepositoryRow, ...]
    page: int
    pages: int
    total: int
    # What the user who asked may do with each row (the menus offer only that).
    rights: Mapping[int, EntryRights] = field(default_factory=dict)

    def rights_of(self, repository_id: int) -> EntryRights:
        return self.rights.get(repository_id, NO_RIGHTS)

    # The bot cannot post in the project's channel (not invited, archived).
    alerts_blocked: bool = False


@dataclass(frozen=True)
class PassedTest:
    """A Connection Test that passed in the modal: the keyed digest of its values and
    when it ran (seconds since the epoch), both from the modal's signed metadata."""

    fingerprint: str
    at: float


@dataclass(frozen=True)
class SaveOutcome:
    repository: RepositoryRow
    result: ConnectionTestResult | None
    created_in_registry: bool


def _has_own_account(row: ImageRepository) -> bool:
    return bool(row.username and row.secret_ciphertext)


def tool_account_of(row: ImageRepository) -> permissions.ToolAccount:
    """Whether the entry's tool may spend its own account for it (the grants of its
    project as loaded with the row: decided at use time, never stored)."""
    return permissions.tool_account(row.project.tool_grants, row.tool_id, row.repository)


def row_view(row: ImageRepository) -> RepositoryRow:
    registry_type = RegistryType(row.registry_type)
    needs_account = (
        permissions.NEEDS_ACCOUNT
        if row.tool is not None and not _has_own_account(row) and not tool_account_of(row).granted
        else None
    )
    return RepositoryRow(
        id=row.id,
        project_id=row.project_id,
        access=RepositoryAccess(row.access),
        registry_type=registry_type,
        type_label=type_info(registry_type).label,
        registry_url=row.registry_url,
        repository=row.repository,
        username=row.username,
        tool_name=row.tool.name if row.tool is not None else None,
        added_by=row.added_by,
        health=row.health,
        last_checked_at=row.last_checked_at,
        last_error_kind=row.last_error_kind,
        last_message=row.last_message,
        can_delete_in_ir=type_info(registry_type).can_delete_in_ir,
        snoozed_by=row.snoozed_by,
        snoozed_until=row.snoozed_until,
        snooze_until_recovered=row.snooze_until_recovered,
        credential_expires_at=row.credential_expires_at,
        needs_account=needs_account,
    )


def _tls(verify: bool, ca_bundle_pem: str | None) -> TlsOptions:
    return TlsOptions(verify=verify, ca_bundle_pem=ca_bundle_pem)


def tool_secret(rt: Runtime, tool: RegisteredTool) -> str | None:
    """A registered tool's secret, or SecretUnavailable naming it when no key opens it."""
    try:
        return tools.secret_of(rt.box, tool)
    except SecretKeyError as error:
        raise SecretUnavailable(f"The saved credentials cannot be used: {error}") from None


def repository_secret(rt: Runtime, row: ImageRepository) -> str | None:
    """A saved repository's secret, or SecretUnavailable naming it when no key opens it."""
    try:
        return repositories.secret_of(rt.box, row)
    except SecretKeyError as error:
        raise SecretUnavailable(f"The saved credentials cannot be used: {error}") from None


def tool_target(rt: Runtime, tool: RegisteredTool, *, with_account: bool = True) -> ToolTarget:
    """The tool as the registry layer sees it. `with_account=False`: its URL, TLS and kind
    only, so no driver can spend its account (permissions.tool_account decides)."""
    secret = tool_secret(rt, tool) if with_account else None
    credentials = Credentials(tool.username, secret) if tool.username and secret else None
    return ToolTarget(
        url=tool.url,
        credentials=credentials,
        tls=_tls(tool.tls_verify, tool.ca_bundle_pem),
        kind=tool_type_of(tool.tool_type),
    )


def saved_pins(row: ImageRepository) -> OriginPins | None:
    """The origins a saved entry's password may go to (None: not pinned yet)."""
    if row.pinned_registry_origin is None:
        return None
    return OriginPins(registry=row.pinned_registry_origin, realm=row.pinned_realm_origin)


def saved_target(rt: Runtime, row: ImageRepository) -> RepositoryTarget:
    """The target of a saved entry: always its saved URL and pinned origins (stored
    secrets go nowhere else); its tool's account only where a grant of its project covers
    it (every test, re-check and delete is built here)."""
    secret = repository_secret(rt, row)
    spend_tool = tool_account_of(row).granted
    credentials = Credentials(row.username, secret) if row.username and secret else None
    return RepositoryTarget(
        type=RegistryType(row.registry_type),
        registry_url=row.registry_url,
        repository=row.repository,
        credentials=credentials,
        pull_only=row.access == RepositoryAccess.PULL_ONLY,
        tls=_tls(row.tls_verify, row.ca_bundle_pem),
        tool=tool_target(rt, row.tool, with_account=spend_tool) if row.tool is not None else None,
        pins=saved_pins(row),
    )


@dataclass(frozen=True)
class FormTarget:
    form: RepositoryForm
    target: RepositoryTarget
    tool: RegisteredTool | None
    tool_account: permissions.ToolAccount


async def _form_target(
    rt: Runtime,
    session: AsyncSession,
    team_id: str,
    form: RepositoryForm,
    project: Project | None,
) -> FormTarget:
    """Validate the form and build the target it describes, with the tool's account only
    where `project` (the modal's) holds a grant covering the repository.

    A registered tool must be of the form's type. A tool whose kind `serves_registry`
    gives the registry its URL; otherwise (an API host only) the registry URL stays the
    form's."""
    typed_url = (form.registry_url or "").strip()
    form = validate(form, dockerhub_url=rt.settings.dockerhub_registry_url)
    tool: RegisteredTool | None = None
    registry_type = RegistryType(form.registry_type)
    info = type_info(registry_type)
    if form.tool_id is not None and info.tool is not None:
        try:
            tool = await tools.get(session, form.tool_id, team_id=team_id)
        except NotFoundError as error:
            raise InvalidInput({Field.TOOL: str(error)}) from None
        kind = tool_type_of(tool.tool_type).value
        if kind != registry_type.value:
            raise InvalidInput(
                {
                    Field.TOOL: f"{tool.name} is a {type_info(kind).label} tool; choose a "
                    f"{info.label} tool or none."
                }
            )
        if info.tool.serves_registry:
            if (
                info.has_url_check
                and typed_url
                and origin_of(normalize_url(typed_url)) != origin_of(tool.url)
            ):
                raise InvalidInput(
                    {
                        Field.REGISTRY_URL: f"{info.tool.label} serves its registry on its "
                        f"API's host: leave this empty or enter {tool.url} (the tool's URL)."
                    }
                )
            form = replace(
                form,
                registry_url=tool.url,
                ca_bundle_pem=form.ca_bundle_pem or tool.ca_bundle_pem,
                insecure=form.insecure or not tool.tls_verify,
            )
    assert form.registry_url is not None
    credentials = Credentials(form.username, form.secret) if form.username and form.secret else None
    grants = project.tool_grants if project is not None else ()
    decision = permissions.tool_account(
        grants, tool.id if tool is not None else None, form.repository
    )
    target = RepositoryTarget(
        type=RegistryType(form.registry_type),
        registry_url=form.registry_url,
        repository=form.repository,
        credentials=credentials,
        pull_only=form.access is RepositoryAccess.PULL_ONLY,
        tls=_tls(not form.insecure, form.ca_bundle_pem),
        tool=tool_target(rt, tool, with_account=decision.granted) if tool is not None else None,
    )
    return FormTarget(form, target, tool, decision)


def form_fingerprint(rt: Runtime, form: RepositoryForm) -> str:
    """The digest the modal keeps of the values its last passing test used."""
    try:
        form = validate(form, dockerhub_url=rt.settings.dockerhub_registry_url)
    except InvalidInput:
        return ""
    return fingerprint(form, rt.fingerprint_key)


def check_form(rt: Runtime, actor: Actor, form: RepositoryForm) -> RepositoryForm:
    """Every check that needs no network, for a modal's field errors before it acks.
    (Whose account a registered tool spends needs the project's grants: `_form_target`.)"""
    return validate(form, dockerhub_url=rt.settings.dockerhub_registry_url)


def _require_account_for_create(built: FormTarget) -> None:
    """`Create new` through a tool not granted here: only the user's own account may
    create, so without one nothing is tried (and the tool's account never is)."""
    if (
        built.form.creation is Creation.NEW
        and built.tool is not None
        and not built.tool_account.granted
        and built.target.credentials is None
    ):
        raise InvalidInput(
            {Field.USERNAME: permissions.not_granted(built.tool.name, built.form.repository)}
        )


async def check_tool_account(
    rt: Runtime, actor: Actor, form: RepositoryForm, *, channel_id: str
) -> None:
    """The database half of the checks before a modal acks: `Create new` through a tool
    that is not granted here needs the user's own account (a field error under Username,
    before anything is sent anywhere)."""
    async with rt.sessions() as session:
        project = await projects_store.get_by_channel(session, actor.team_id, channel_id)
        # The form as typed: `_form_target` validates it (a validated form of a tool type carries
        # a default registry URL that is not what the user typed).
        built = await _form_target(rt, session, actor.team_id, form, project)
    _require_account_for_create(built)


def watched_test(rt: Runtime, passed: PassedTest) -> tuple[ConnectionTestResult, datetime]:
    """The Connection Test the user watched pass in the modal, as the entry's first check
    (issue 19: otherwise the list said "not checked yet" while the channel said "passed"),
    and when it ran (never later than now, whatever the clocks say)."""
    ran = datetime.fromtimestamp(min(passed.at, rt.clock()), UTC)
    result = ConnectionTestResult(
        steps=(),
        error_kind=None,
        message="Connection test passed in the modal before Save.",
        latency_ms=0.0,
        round_trips=0,
    )
    return result, ran


def passed_recently(rt: Runtime, form: RepositoryForm, passed: PassedTest | None) -> bool:
    """Whether Save may skip the test: these exact values passed it under 15 minutes ago."""
    if passed is None or not passed.fingerprint:
        return False
    age = rt.clock() - passed.at
    return -CLOCK_SKEW <= age <= PASSED_TEST_TTL and form_fingerprint(rt, form) == (
        passed.fingerprint
    )


async def url_check(
    rt: Runtime, url: str, *, ca_bundle_pem: str | None = None, insecure: bool = False
) -> UrlCheckResult:
    """The `URL Check` button: is there a registry (the /v2/ API) at this URL, and how does it
    ask for credentials?"""
    if not url or not url.strip():
        raise InvalidInput({Field.REGISTRY_URL: "Enter the registry URL first."})
    if problem := url_problem(url):
        raise InvalidInput({Field.REGISTRY_URL: problem})
    return await rt.registry.url_check(url.strip(), _tls(not insecure, ca_bundle_pem))


def _message_key(kind: str, row: ImageRepository) -> str:
    """The outbox key of an entry's channel message: the same retried write is one
    message, while an entry added after another was deleted (SQLite reuses the id) is
    a message of its own, told apart by when it was added."""
    return f"{kind}:{row.id}:{row.added_at.isoformat()}"


async def test_form(
    rt: Runtime, actor: Actor, form: RepositoryForm, *, channel_id: str | None = None
) -> ConnectionTestResult:
    """The modal's `Connection Test` button, with the values as typed (nothing is stored
    but the audit record, of the project of `channel_id`, the modal's channel)."""
    check_form(rt, actor, form)
    async with rt.sessions() as session:
        project = (
            await projects_store.get_by_channel(session, actor.team_id, channel_id)
            if channel_id
            else None
        )
        built = await _form_target(rt, session, actor.team_id, form, project)
    _require_account_for_create(built)
    form, target = built.form, built.target
    if form.creation is Creation.NEW:
        # The repository does not exist yet; what can be proven now is the account.
        target = replace(target, pull_only=True)
    result = await rt.registry.connection_test(target)
    if form.creation is Creation.NEW and result.error_kind is ErrorKind.REPOSITORY_NOT_FOUND:
        # Expected before Save creates it: the earlier steps proved the registry and account.
        steps = tuple(
            replace(step, ok=True, detail="does not exist yet: created when you save")
            if not step.ok and not step.skipped
            else step
            for step in result.steps
        )
        result = replace(
            result,
            steps=steps,
            error_kind=None,
            message=f"The account works; {form.repository} is created when you save.",
        )
    await audit.connection_tested(
        rt,
        actor,
        result,
        audit.Attempt(action=Action.CONNECTION_TEST, channel_id=channel_id, typed=_typed(form)),
    )
    return result


def _typed(form: RepositoryForm) -> audit.Typed:
    """What the add modal named, for the record of an attempt that saved nothing."""
    return audit.Typed(
        target_type=str(form.registry_type),
        target_url=form.registry_url or None,
        target_repository=form.repository,
        username=form.username,
        secret=form.secret,
    )


def _save_attempt(form: RepositoryForm) -> str:
    if form.save_unhealthy:
        return Action.SAVE_WHILE_FAILING
    return Action.ADD_PULL if form.access == RepositoryAccess.PULL_ONLY else Action.ADD


async def save_repository(
    rt: Runtime,
    actor: Actor,
    *,
    channel_id: str,
    form: RepositoryForm,
    passed: PassedTest | None = None,
) -> SaveOutcome:
    """Save: validate, create in the registry if asked, test unless the same values
    passed under 15 minutes ago, then store with the secret encrypted and tell the channel.

    `channel_id` comes from the modal's signed metadata: the entry joins that channel's
    project and no other.

    A failing test saves nothing, unless a project admin ticked "save anyway"
    (for registries the bot cannot reach, e.g. behind a proxy): then the entry is
    stored as failing and the re-checks keep testing it.
    """
    async with audit.attempt(
        rt,
        actor,
        audit.Attempt(action=_save_attempt(form), channel_id=channel_id, typed=_typed(form)),
    ):
        check_form(rt, actor, form)
        async with rt.sessions() as session:
            project = await load_project(session, actor.team_id, channel_id)
            built = await _form_target(rt, session, actor.team_id, form, project)
            form, target = built.form, built.target
            if form.save_unhealthy:
                await permissions.require_project_admin(
                    session, actor, project.id, ProjectAction.SAVE_FAILING
                )
        project_id = project.id
        _require_account_for_create(built)

        created = False
        if form.creation is Creation.NEW:
            try:
                await rt.registry.create_repository(target)
            except RegistryError as error:
                if error.kind is ErrorKind.ALREADY_EXISTS:
                    raise InvalidInput(
                        {Field.REPOSITORY: f"{error.message} Choose Use existing repository."}
                    ) from None
                why = (
                    f" ({permissions.not_granted(built.tool.name, form.repository)})"
                    if built.tool is not None and not built.tool_account.granted
                    else ""
                )
                raise RegistryOperationFailed(
                    f"Could not create it in the registry: {error.message}{why}",
                    error_kind=error.kind.value,
                ) from None
            created = True

        result: ConnectionTestResult | None = None
        watched = None
        if passed is not None and not created and passed_recently(rt, form, passed):
            watched = watched_test(rt, passed)
        else:
            result = await rt.registry.connection_test(target)
            if not result.ok and not form.save_unhealthy:
                hint = (
                    f" The repository was created in the registry ({form.repository}) and is "
                    "empty; fix the problem and save it with Use existing repository."
                    if created
                    else ""
                )
                raise ConnectionTestFailed(result, hint)

        new = NewRepository(
            project_id=project_id,
            access=form.access,
            registry_type=form.registry_type,
            registry_url=form.registry_url or "",
            repository=form.repository,
            added_by=actor.user_id,
            account=EnteredAccount(
                form.username,
                form.secret,
                tls_verify=not form.insecure,
                ca_bundle_pem=form.ca_bundle_pem,
            ),
            tool_id=form.tool_id if target.tool is not None else None,
        )
        try:
            async with transaction(rt.sessions) as session:
                row = await repositories.add(session, rt.box, new)
                await session.flush()
                await session.refresh(row, ["project", "tool"])
                if result is not None:
                    await _apply_result(rt, session, row, result, CheckTrigger.SAVE)
                elif watched is not None:
                    watched_result, ran = watched
                    await _apply_result(rt, session, row, watched_result, CheckTrigger.SAVE, ran)
                if result is not None or watched is not None:
                    # Just tested: the schedule takes over one interval from now.
                    row.next_check_at = utcnow() + timedelta(seconds=rt.settings.recheck_interval)
                note = notices.RepositoryAdded(
                    notices.EntryFacts.of(row),
                    user_id=actor.user_id,
                    healthy=result is None or result.ok,
                )
                await outbox.notify(session, row.project, note, key=_message_key("added", row))
                view = row_view(row)
                await audit.record(
                    session,
                    audit.for_repository(
                        rt,
                        actor,
                        audit.save_action(form.access, result),
                        row,
                        detail=built.tool_account.audit_note if built.tool is not None else None,
                    ),
                )
        except DuplicateError as error:
            suffix = (
                f" (The registry now has the repository {form.repository}, created just now.)"
                if created
                else ""
            )
            raise Conflict(f"{error}{suffix}") from None
        rt.outbox_ready.set()
        return SaveOutcome(repository=view, result=result, created_in_registry=created)


async def list_repositories(
    rt: Runtime, actor: Actor, *, channel_id: str, page: int = 1
) -> RepositoryPage:
    """The channel's project and one page of its list, read in one session."""
    async with rt.sessions() as session:
        project = await load_project(session, actor.team_id, channel_id)
        return await page_of(session, actor, project, page)


async def page_of(
    session: AsyncSession, actor: Actor, project: Project, page: int
) -> RepositoryPage:
    """Page numbers out of range are clamped, so a stale Next button still shows something.
    Each row carries what `actor` may do with it, for the menus."""
    total = await repositories.count(session, project.id)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = await repositories.of_project(
        session, project.id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    admin = await permissions.is_project_admin(session, actor, project.id)
    return RepositoryPage(
        project_id=project.id,
        project_name=project.name,
        rows=tuple(row_view(r) for r in rows),
        page=page,
        pages=pages,
        total=total,
        rights={
            r.id: permissions.entry_rights(actor, project_admin=admin, added_by=r.added_by)
            for r in rows
        },
        alerts_blocked=project.alerts_blocked_since is not None,
    )


async def _load(
    session: AsyncSession, actor: Actor, place: Place, repository_id: int
) -> ImageRepository:
    """The entry, if this request may see it from where it came; else NotFound, worded
    like a deleted entry so that ids of other channels reveal nothing."""
    try:
        row: ImageRepository | None = await repositories.get(session, repository_id)
    except NotFoundError:
        row = None
    return await permissions.require_entry_visible(session, actor, place, row)


async def _load_to(
    session: AsyncSession, actor: Actor, place: Place, repository_id: int, action: EntryAction
) -> ImageRepository:
    """`_load`, once this person may do `action` with the entry (a refusal says who may)."""
    row = await _load(session, actor, place, repository_id)
    permissions.require_entry(await permissions.rights_on(session, actor, row), action)
    return row


async def get_repository(
    rt: Runtime, actor: Actor, place: Place, repository_id: int
) -> RepositoryRow:
    async with rt.sessions() as session:
        return row_view(await _load(session, actor, place, repository_id))


# A refusal at a menu is recorded as an attempt of what the menu was about to do.
_ATTEMPTS = {
    EntryAction.TEST: Action.CONNECTION_TEST,
    EntryAction.CHANGE_ACCOUNT: Action.CHANGE_ACCOUNT,
    EntryAction.DELETE: Action.DELETE,
}


async def entry_for(
    rt: Runtime, actor: Actor, place: Place, repository_id: int, action: EntryAction
) -> RepositoryRow:
    """The entry a menu is about to act on, once the user may do `action` with it (a
    refusal says who may), so that no modal opens only to refuse at Save."""
    async with (
        audit.attempt(
            rt, actor, audit.Attempt(action=_ATTEMPTS[action], repository_id=repository_id)
        ),
        rt.sessions() as session,
    ):
        return row_view(await _load_to(session, actor, place, repository_id, action))


async def get_for_delete(
    rt: Runtime, actor: Actor, place: Place, repository_id: int
) -> RepositoryRow:
    """The row for the delete modal, once the user may delete it, saying whether its saved
    account can delete in the registry (a deploy token or a robot may not: the driver says),
    without asking the registry."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.DELETE, repository_id=repository_id)
    ):
        async with rt.sessions() as session:
            row = await _load_to(session, actor, place, repository_id, EntryAction.DELETE)
            view = row_view(row)
            if not view.can_delete_in_ir:
                return view
            if view.needs_account and view.tool_name:
                return replace(
                    view, delete_blocker=permissions.not_granted(view.tool_name, view.repository)
                )
            try:
                target = saved_target(rt, row)
            except SecretUnavailable as error:
                return replace(view, delete_blocker=str(error))
        return replace(view, delete_blocker=rt.registry.delete_blocker(target))


async def _apply_result(
    rt: Runtime,
    session: AsyncSession,
    row: ImageRepository,
    result: ConnectionTestResult,
    trigger: CheckTrigger,
    ran: datetime | None = None,
) -> None:
    """`health.apply_result` with this process's IMAGEREPO_ALERT_AFTER (`ran`: when the
    test ran, if not just now)."""
    await health.apply_result(
        session, row, result, trigger=trigger, alert_after=rt.settings.alert_after, now=ran
    )


async def record_result(
    rt: Runtime, repository_id: int, result: ConnectionTestResult, trigger: CheckTrigger
) -> RepositoryRow | None:
    async with transaction(rt.sessions) as session:
        try:
            row = await repositories.get(session, repository_id)
        except NotFoundError:
            return None  # deleted while the test ran
        await _apply_result(rt, session, row, result, trigger)
        view = row_view(row)
    rt.outbox_ready.set()
    return view


async def test_saved(
    rt: Runtime, actor: Actor, place: Place, repository_id: int
) -> ConnectionTestResult:
    """The list's `Connection Test`: the saved URL and credentials, recorded in the history.
    Only for an entry this request may see: nothing is sent or recorded otherwise."""
    async with audit.attempt(
        rt, actor, audit.Attempt(action=Action.CONNECTION_TEST, repository_id=repository_id)
    ):
        async with rt.sessions() as session:
            row = await _load_to(session, actor, place, repository_id, EntryAction.TEST)
            target = saved_target(rt, row)
        result = await rt.registry.connection_test(target)
        await record_result(rt, repository_id, result, CheckTrigger.MANUAL)
        await audit.connection_tested(
            rt,
            actor,
            result,
            audit.Attempt(action=Action.CONNECTION_TEST, repository_id=repository_id),
        )
        return result


def account_problems(username: str, secret: str) -> dict[str, str]:
    """What is wrong with a new account typed in the account modal, by field (checked
    before anything is sent; the modal shows each under its field)."""
    errors: dict[str, str] = {}
    if not username.strip():
        errors[Field.USERNAME] = "Enter the user name."
    elif len(username.strip()) > 255:
        errors[Field.USERNAME] = "At most 255 characters."
    if not secret:
        errors[Field.SECRET] = "Enter the password or access token (the old one is never shown)."
    elif len(secret) > MAX_SECRET:
        errors[Field.SECRET] = f"At most {MAX_SECRET} characters."
    return errors


async def change_account(
    rt: Runtime, actor: Actor, place: Place, repository_id: int, *, username: str, secret: str
) -> ConnectionTestResult:
    """Test the new account against the saved URL; store it only when the test passes."""
    async with audit.attempt(
        rt,
        actor,
        audit.Attempt(
            action=Action.CHANGE_ACCOUNT, repository_id=repository_id, account=(username, secret)
        ),
    ):
        username = username.strip()
        if errors := account_problems(username, secret):
            raise InvalidInput(errors)
        async with rt.sessions() as session:
            row = await _load_to(session, actor, place, repository_id, EntryAction.CHANGE_ACCOUNT)
            # A password typed now may go where the registry sends it today: no pins;
            # the entry is pinned again to what this test finds.
            target = replace(
                saved_target(rt, row), credentials=Credentials(username, secret), pins=None
            )
            updated_at = row.updated_at
        result = await rt.registry.connection_test(target)
        if not result.ok:
            raise ConnectionTestFailed(result, " The saved account was not changed.")
        async with transaction(rt.sessions) as session:
            row = await _load(session, actor, place, repository_id)
            if row.updated_at != updated_at:
                raise Conflict("Someone changed this repository meanwhile; open it again.")
            repositories.set_credentials(rt.box, row, username=username, secret=secret)
            repositories.pin_origins(
                row, registry_origin=result.registry_origin, realm_origin=result.realm_origin
            )
            row.credential_expires_at = result.credential_expires_at  # the old one's date goes
            # A new account is re-checked at once: the list never shows a stale status.
            await _apply_result(rt, session, row, result, CheckTrigger.MANUAL)
            await audit.record(
                session,
                audit.for_repository(
                    rt, actor, Action.CHANGE_ACCOUNT, row, detail=f"account {username}"
                ),
            )
        rt.outbox_ready.set()
        return result


async def delete_repository(
    rt: Runtime, actor: Actor, place: Place, repository_id: int, *, also_in_registry: bool
) -> RepositoryRow:
    """Delete from the list, and first from the image registry when asked.

    The registry goes first: if it refuses or is down, the entry stays in the
    list and the error says why, so nothing is lost and the user can retry.
    """
    async with audit.attempt(
        rt,
        actor,
        audit.Attempt(
            action=Action.DELETE_IN_IR if also_in_registry else Action.DELETE,
            repository_id=repository_id,
        ),
    ):
        async with rt.sessions() as session:
            row = await _load_to(session, actor, place, repository_id, EntryAction.DELETE)
            view = row_view(row)
            target = saved_target(rt, row) if also_in_registry else None
            spent = tool_account_of(row)
            tool_name = row.tool.name if row.tool is not None else None
            own_account = _has_own_account(row)
        if target is not None:
            if tool_name is not None and not spent.granted and not own_account:
                raise RegistryOperationFailed(
                    f"{permissions.not_granted(tool_name, view.repository)} This entry has no "
                    "account of its own, so nothing was deleted in the registry; the entry stays "
                    "in the list (untick the box to remove it from the list only).",
                    error_kind=ErrorKind.PERMISSION_DENIED.value,
                )
            if not view.can_delete_in_ir:
                raise RegistryOperationFailed(
                    f"{view.type_label} repositories cannot be deleted in the registry from here; "
                    "untick the box to remove it from the list only."
                )
            if blocker := rt.registry.delete_blocker(target):
                raise RegistryOperationFailed(
                    f"{blocker} Nothing was deleted; the entry stays in the list.",
                    error_kind=ErrorKind.PERMISSION_DENIED.value,
                )
            try:
                await rt.registry.delete_repository(target)
            except RegistryError as error:
                raise RegistryOperationFailed(
                    f"The registry did not delete {view.repository}: {error.message} "
                    "The entry stays in the list.",
                    error_kind=error.kind.value,
                ) from None
        async with transaction(rt.sessions) as session:
            try:
                row = await repositories.get(session, repository_id)
            except NotFoundError:
                raise NotFound("That repository was deleted meanwhile.") from None
            note = notices.RepositoryDeleted(
                notices.EntryFacts.of(row), user_id=actor.user_id, in_registry=target is not None
            )
            await outbox.notify(session, row.project, note, key=_message_key("deleted", row))
            await repositories.remove(session, row)
            await audit.record(
                session,
                audit.for_repository(
                    rt,
                    actor,
                    Action.DELETE_IN_IR if target is not None else Action.DELETE,
                    row,
                    detail=spent.audit_note if target is not None and tool_name else None,
                ),
            )
        rt.outbox_ready.set()
        return view
