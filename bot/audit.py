"""Audit hooks for the use cases: who did what to which repository, with what outcome.

A use case that changes something writes its record with ONE call, in the same
transaction as the change (`await audit.record(session, audit.for_repository(...))`):
the record exists exactly when the change does. The call comes LAST in the
transaction: the chain's head is then locked after the change's rows, in the same
order by every writer, so two use cases touching one row cannot deadlock on
PostgreSQL, and the head is held only until the commit. Attempts that change nothing
(refused by a permission rule, or failed at the registry) are written by the
`@audited(...)` decorator in a transaction of their own, after the use case
raised. Table access and the hash chain live in storage/audit.py.
"""

from __future__ import annotations

import functools
import getpass
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import REQUEST_ID
from bot.runtime import Runtime
from bot.usecases.actor import Actor
from bot.usecases.errors import (
    Conflict,
    PermissionDenied,
    RegistryOperationFailed,
    SecretUnavailable,
    TooSoon,
    UseCaseError,
)
from registry import ConnectionTestResult
from storage import audit as chain
from storage import projects, repositories, tools
from storage.audit import AuditEvent, Outcome, credential_fingerprint
from storage.crypto import SecretBox, SecretKeyError
from storage.db import transaction
from storage.enums import RepositoryAccess
from storage.errors import NotFoundError
from storage.models import ImageRepository, Project, RegisteredTool

log = logging.getLogger(__name__)

FINGERPRINT_PURPOSE = "imagerepo-audit-credential-fingerprint"
P = ParamSpec("P")
R = TypeVar("R")


class Action(StrEnum):
    PROJECT_CREATE = "project-create"
    ADMIN_ADD = "admin-add"
    ADMIN_REMOVE = "admin-remove"
    PROJECT_LANGUAGE = "project-language"
    ADD = "add"
    ADD_PULL = "add-pull"
    SAVE_WHILE_FAILING = "save-while-failing"
    CHANGE_ACCOUNT = "change-account"
    DELETE = "delete"
    DELETE_IN_IR = "delete-in-ir"
    CONNECTION_TEST = "connection-test"
    TOOL_REGISTER = "tool-register"
    TOOL_EDIT = "tool-edit"
    TOOL_REMOVE = "tool-remove"
    TOOL_GRANT = "tool-grant"
    TOOL_UNGRANT = "tool-ungrant"
    CHECK = "check"
    ROTATE_KEYS = "rotate-keys"
    SNOOZE = "snooze"


def fingerprint_key(box: SecretBox) -> bytes:
    return box.hkdf_key(FINGERPRINT_PURPOSE)


def fingerprint(rt: Runtime, username: str | None, secret: str | None) -> str | None:
    """The credential's 12-hex-digit keyed digest (None when there is no secret)."""
    return credential_fingerprint(fingerprint_key(rt.box), username, secret)


def saved_fingerprint(rt: Runtime, row: ImageRepository | RegisteredTool) -> str | None:
    """The fingerprint of a stored credential; None when none is stored or no key opens it."""
    if not row.secret_ciphertext:
        return None
    try:
        secret = rt.box.decrypt(row.secret_ciphertext, what="audited secret")
    except SecretKeyError:
        return None
    return fingerprint(rt, row.username, secret)


def _request_id() -> str | None:
    value = REQUEST_ID.get()
    return None if value in ("", "-") else value


def event(actor: Actor, action: str, **details: Any) -> AuditEvent:
    """An event by `actor` (user id, the name Slack showed, workspace) in this request."""
    return AuditEvent(
        team_id=actor.team_id,
        user_id=actor.user_id,
        user_name=actor.display_name,
        action=str(action),
        request_id=_request_id(),
        **details,
    )


def for_project(
    rt: Runtime, actor: Actor, action: str, project: Project | str, **details: Any
) -> AuditEvent:
    """`rt` unused today; kept so every builder is called the same way."""
    name = project if isinstance(project, str) else project.name
    return event(actor, action, project=name, **details)


def for_repository(
    rt: Runtime, actor: Actor, action: str, row: ImageRepository, **details: Any
) -> AuditEvent:
    details.setdefault("fingerprint", saved_fingerprint(rt, row))
    return event(
        actor,
        action,
        project=row.project.name,
        target_type=row.registry_type,
        target_url=row.registry_url,
        target_repository=row.repository,
        **details,
    )


def for_tool(
    rt: Runtime, actor: Actor, action: str, tool: RegisteredTool, **details: Any
) -> AuditEvent:
    details.setdefault("fingerprint", saved_fingerprint(rt, tool))
    details.setdefault("detail", f"tool {tool.name}")
    return event(actor, action, target_type="harbor-tool", target_url=tool.url, **details)


def save_action(access: RepositoryAccess, result: ConnectionTestResult | None) -> Action:
    """Add / add-pull, or save-while-failing when a failing test was saved on purpose."""
    if result is not None and not result.ok:
        return Action.SAVE_WHILE_FAILING
    return Action.ADD_PULL if access == RepositoryAccess.PULL_ONLY else Action.ADD


def cli_actor() -> Actor:
    """Who runs a CLI command (key rotation): the operating-system account."""
    try:
        name = getpass.getuser()
    except Exception:
        name = ""
    return Actor(team_id="", user_id="cli", display_name=name)


async def record(session: AsyncSession, audit_event: AuditEvent) -> None:
    """Append to the chain in the caller's transaction (it commits with the change)."""
    await chain.append(session, audit_event)


async def record_alone(rt: Runtime, audit_event: AuditEvent) -> None:
    """Append in a transaction of its own (for attempts that changed nothing)."""
    async with transaction(rt.sessions) as session:
        await chain.append(session, audit_event)


# -- attempts that changed nothing ------------------------------------------------


def _outcome_of(error: UseCaseError) -> tuple[str, str | None] | None:
    """(outcome, error kind) for errors worth a record; None for typos and stale clicks."""
    if isinstance(error, PermissionDenied):
        return Outcome.REFUSED, "permission"
    if isinstance(error, TooSoon):
        return Outcome.REFUSED, "rate_limited"
    result = getattr(error, "result", None)
    if isinstance(result, ConnectionTestResult):  # ConnectionTestFailed
        kind = result.error_kind.value if result.error_kind is not None else "test_failed"
        return Outcome.FAILED, kind
    if isinstance(error, RegistryOperationFailed):
        return Outcome.FAILED, error.error_kind or "registry"
    if isinstance(error, SecretUnavailable):
        return Outcome.FAILED, "secret_unavailable"
    if isinstance(error, Conflict):
        return Outcome.FAILED, "conflict"
    return None


async def _context(rt: Runtime, args: Mapping[str, Any]) -> dict[str, Any]:
    """Project and target of an attempt, from the use case's arguments (by name)."""
    details: dict[str, Any] = {}
    actor: Actor = args["actor"]
    async with rt.sessions() as session:
        channel_id = args.get("channel_id")
        if channel_id:
            project = await projects.get_by_channel(session, actor.team_id, str(channel_id))
            details["project"] = project.name if project is not None else None
        if args.get("repository_id") is not None:
            try:
                row = await repositories.get(session, int(args["repository_id"]))
            except NotFoundError:
                row = None
            if row is not None and row.project.team_id == actor.team_id:
                details.update(
                    project=row.project.name,
                    target_type=row.registry_type,
                    target_url=row.registry_url,
                    target_repository=row.repository,
                    fingerprint=saved_fingerprint(rt, row),
                )
        if args.get("tool_id") is not None:
            try:
                tool = await tools.get(session, int(args["tool_id"]), team_id=actor.team_id)
            except NotFoundError:
                tool = None
            if tool is not None:
                details.update(
                    target_type="harbor-tool",
                    target_url=tool.url,
                    detail=f"tool {tool.name}",
                    fingerprint=saved_fingerprint(rt, tool),
                )
    form = args.get("form")
    if form is not None:
        registry_type = getattr(form, "registry_type", None)
        details["target_type"] = str(registry_type) if registry_type else "harbor-tool"
        details["target_url"] = getattr(form, "registry_url", None) or getattr(form, "url", None)
        details["target_repository"] = getattr(form, "repository", None)
        if registry_type is None:
            details["detail"] = f"tool {getattr(form, 'name', '')}".strip()
        if getattr(form, "secret", None):
            details["fingerprint"] = fingerprint(rt, form.username, form.secret)
    if args.get("secret"):  # change account: the credential tried is the new one
        details["fingerprint"] = fingerprint(rt, args.get("username"), args["secret"])
    return details


def audited(
    action: str | Callable[[Mapping[str, Any]], str],
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Record a refused or failed attempt of the decorated use case, then re-raise.

    `action` is the action name, or a function of the use case's arguments (by
    name) that returns it. The use case must take `rt` and `actor`.
    """

    def decorate(use_case: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        signature = inspect.signature(use_case)

        @functools.wraps(use_case)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await use_case(*args, **kwargs)
            except UseCaseError as error:
                outcome = _outcome_of(error)
                if outcome is not None:
                    bound = signature.bind(*args, **kwargs)
                    bound.apply_defaults()
                    await _record_attempt(bound.arguments, action, outcome, error.message)
                raise

        return run

    return decorate


async def _record_attempt(
    arguments: Mapping[str, Any],
    action: str | Callable[[Mapping[str, Any]], str],
    outcome: tuple[str, str | None],
    message: str,
) -> None:
    rt: Runtime = arguments["rt"]
    actor: Actor = arguments["actor"]
    name = action(arguments) if callable(action) else action
    try:
        details = await _context(rt, arguments)
        details.setdefault("detail", None)
        details["detail"] = "; ".join(filter(None, (details["detail"], message)))
        await record_alone(
            rt,
            event(actor, name, outcome=outcome[0], error_kind=outcome[1], **details),
        )
    except Exception:
        # The user still gets the refusal; a trail that cannot be written is logged loudly.
        log.exception("could not write the audit record of a %s %s", outcome[0], name)


async def connection_tested(
    rt: Runtime,
    actor: Actor,
    result: ConnectionTestResult,
    *,
    repository_id: int | None = None,
    tool_id: int | None = None,
    channel_id: str | None = None,
    form: Any = None,
) -> None:
    """A Connection Test a person ran from Slack, with its result: of a saved entry or
    tool, or (`channel_id` + `form`) of the add modal's typed values."""
    # What `_context` reads, named as a use case's arguments.
    arguments = {
        "rt": rt,
        "actor": actor,
        "repository_id": repository_id,
        "tool_id": tool_id,
        "channel_id": channel_id,
        "form": form,
    }
    kind = result.error_kind.value if result.error_kind is not None else None
    try:
        details = await _context(rt, arguments)
        await record_alone(
            rt,
            event(
                actor,
                Action.CONNECTION_TEST,
                outcome=Outcome.OK if result.ok else Outcome.FAILED,
                error_kind=kind,
                **details,
            ),
        )
    except Exception:
        log.exception("could not write the audit record of a connection test")
