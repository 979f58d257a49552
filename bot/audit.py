"""Audit hooks for the use cases: who did what to which repository, with what outcome.

A use case that changes something writes its record with ONE call, in the same
transaction as the change (`await audit.record(session, audit.for_repository(...))`):
the record exists exactly when the change does. The call comes LAST in the
transaction: the chain's head is then locked after the change's rows, in the same
order by every writer, so two use cases touching one row cannot deadlock on
PostgreSQL, and the head is held only until the commit. Attempts that change nothing
(refused by a permission rule, or failed at the registry) are written by
`async with audit.attempt(rt, actor, Attempt(...))` in a transaction of their own,
after the use case raised: the use case states what the record is about. Table
access and the hash chain live in storage/audit.py.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

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
from registry import ConnectionTestResult, tool_type_of
from storage import audit as chain
from storage import projects, repositories, tools
from storage.audit import AuditEvent, Outcome, credential_fingerprint
from storage.crypto import SecretBox, SecretKeyError
from storage.db import DB_ERRORS, transaction
from storage.enums import RepositoryAccess
from storage.errors import NotFoundError
from storage.models import ImageRepository, Project, RegisteredTool

log = logging.getLogger(__name__)

FINGERPRINT_PURPOSE = "imagerepo-audit-credential-fingerprint"


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
    return event(
        actor, action, target_type=tool_target_type(tool.tool_type), target_url=tool.url, **details
    )


def tool_target_type(kind: str | None) -> str:
    """How the trail names a registered tool of `kind`: `<kind>-tool` (a row without a
    kind is of `LEGACY_TOOL_KIND`, as are the tools of records written before the kind
    was recorded)."""
    return f"{tool_type_of(kind).value}-tool"


@dataclass(frozen=True, kw_only=True)
class Typed:
    """What a form named before anything was saved: where it points, and the credential
    tried (recorded only as its fingerprint)."""

    target_type: str
    target_url: str | None = None
    target_repository: str | None = None
    detail: str | None = None
    username: str | None = None
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """What a use case records if it is refused or fails: its action, and what it is
    about (a channel's project, a saved entry, a tool, typed values, a new account).
    Built by the use case itself, so the trail names exactly what it says."""

    action: str
    channel_id: str | None = None
    repository_id: int | None = None
    tool_id: int | None = None
    typed: Typed | None = None
    # change account: (username, secret) of the account tried
    account: tuple[str, str] | None = field(default=None, repr=False)


def save_action(access: RepositoryAccess, result: ConnectionTestResult | None) -> Action:
    """Add / add-pull, or save-while-failing when a failing test was saved on purpose."""
    if result is not None and not result.ok:
        return Action.SAVE_WHILE_FAILING
    return Action.ADD_PULL if access == RepositoryAccess.PULL_ONLY else Action.ADD


def cli_actor() -> Actor:
    """Who runs a CLI command (key rotation): the operating-system account."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry for the uid
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


async def _context(rt: Runtime, actor: Actor, attempt: Attempt) -> dict[str, Any]:
    """Project and target of an attempt, from what the use case stated it was about."""
    details: dict[str, Any] = {}
    async with rt.sessions() as session:
        if attempt.channel_id:
            project = await projects.get_by_channel(session, actor.team_id, attempt.channel_id)
            details["project"] = project.name if project is not None else None
        if attempt.repository_id is not None:
            try:
                row = await repositories.get(session, attempt.repository_id)
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
        if attempt.tool_id is not None:
            try:
                tool = await tools.get(session, attempt.tool_id, team_id=actor.team_id)
            except NotFoundError:
                tool = None
            if tool is not None:
                details.update(
                    target_type=tool_target_type(tool.tool_type),
                    target_url=tool.url,
                    detail=f"tool {tool.name}",
                    fingerprint=saved_fingerprint(rt, tool),
                )
    typed = attempt.typed
    if typed is not None:
        details["target_type"] = typed.target_type
        details["target_url"] = typed.target_url
        details["target_repository"] = typed.target_repository
        if typed.detail is not None:
            details["detail"] = typed.detail
        if typed.secret:
            details["fingerprint"] = fingerprint(rt, typed.username, typed.secret)
    if attempt.account is not None and attempt.account[1]:
        # change account: the credential tried is the new one
        details["fingerprint"] = fingerprint(rt, *attempt.account)
    return details


@asynccontextmanager
async def attempt(rt: Runtime, actor: Actor, what: Attempt) -> AsyncIterator[None]:
    """Record a refused or failed attempt of the use case run inside, then re-raise.

    The use case states `what` it is about when it starts (its action and the ids or
    typed values it names), so renaming a parameter cannot drop detail from the trail.
    """
    try:
        yield
    except UseCaseError as error:
        outcome = _outcome_of(error)
        if outcome is not None:
            await _record_attempt(rt, actor, what, outcome, error.message)
        raise


async def _record_attempt(
    rt: Runtime,
    actor: Actor,
    what: Attempt,
    outcome: tuple[str, str | None],
    message: str,
) -> None:
    try:
        details = await _context(rt, actor, what)
        details.setdefault("detail", None)
        details["detail"] = "; ".join(filter(None, (details["detail"], message)))
        await record_alone(
            rt,
            event(actor, what.action, outcome=outcome[0], error_kind=outcome[1], **details),
        )
    except DB_ERRORS:
        # The user still gets the refusal; a trail that cannot be written is logged loudly.
        log.exception("could not write the audit record of a %s %s", outcome[0], what.action)


async def connection_tested(
    rt: Runtime, actor: Actor, result: ConnectionTestResult, what: Attempt
) -> None:
    """A Connection Test a person ran from Slack, with its result: of a saved entry or
    tool (`what.repository_id`, `what.tool_id`), or (`channel_id` + `typed`) of the add
    modal's typed values."""
    kind = result.error_kind.value if result.error_kind is not None else None
    try:
        details = await _context(rt, actor, what)
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
    except DB_ERRORS:
        # The user still gets the result; a trail that cannot be written is logged loudly.
        log.exception("could not write the audit record of a connection test")
