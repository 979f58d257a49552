"""`RegistryService`: the one entry point the bot uses for everything about registries.

It owns the pooled HTTP client and the token cache, picks the driver for a
target's type, bounds every operation in time, measures it, and scrubs every
message of the secrets the operation handled.  Connection tests never raise
for registry failures: they return what failed and why.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
import traceback
from collections.abc import Awaitable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from registry import pass_cache
from registry.auth import TokenCache, repository_scope, secret_fingerprint
from registry.checks import ConnectionTest, describe_scheme, step_names
from registry.config import RegistryConfig
from registry.drivers import Driver, MintingDriver, Operation, ToolCheckBase
from registry.errors import ErrorKind, RegistryError, scrub
from registry.http import HttpClient
from registry.kinds import TYPES, RegistryType, tool_kind, type_info
from registry.minting import MintCache
from registry.results import (
    STEP_AUTHENTICATED,
    STEP_REACHABLE,
    CheckStep,
    ConnectionTestResult,
    UrlCheckResult,
    step_failed,
)
from registry.target import RegisteredTool, RepositoryTarget, TlsOptions
from registry.urlguard import parse_url

log = logging.getLogger(__name__)

T = TypeVar("T")

DELETE_TIMEOUT = 300.0


def load_class(path: str, base: type[T]) -> type[T]:
    """The class a row of `registry.kinds.TYPES` names (`module:Class`), checked to be a
    `base`: the table names the drivers so that no second list of them exists."""
    module, _, name = path.partition(":")
    found: Any = getattr(importlib.import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, base)):
        raise TypeError(f"{path} is not a {base.__name__}")
    return found


def _driver(path: str, config: RegistryConfig, minting: MintCache) -> Driver:
    cls = load_class(path, Driver)
    if issubclass(cls, MintingDriver):
        return cls(config, minting)
    return cls(config)


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _assemble(
    names: tuple[str, ...],
    passed: list[CheckStep],
    failed_step: str,
    error: RegistryError | None,
    secrets: set[str],
) -> tuple[CheckStep, ...]:
    done = {step.name: step for step in passed}
    out: list[CheckStep] = []
    seen_failure = False
    for name in names:
        if name in done:
            step = done[name]
            out.append(CheckStep(step.name, step.ok, scrub(step.detail, secrets)))
        elif error is not None and name == failed_step:
            out.append(CheckStep(name, False, error.message))
            seen_failure = True
        else:
            why = "not tested: an earlier step failed" if seen_failure else "not tested"
            out.append(CheckStep(name, False, why, skipped=True))
    return tuple(out)


def _test_result(
    op: Operation,
    start: float,
    names: tuple[str, ...],
    check: ConnectionTest | ToolCheckBase,
    error: RegistryError | None,
    passed: str,
    expiry: tuple[bool, datetime | None] = (False, None),
) -> ConnectionTestResult:
    """One Connection Test's result (of an entry or a tool): its steps in order, `passed`
    as the summary or the failed step's message, the cost, where the password went (an
    entry's test) and `expiry` (known, when)."""
    entry = check if isinstance(check, ConnectionTest) else None
    known, expires_at = expiry
    return ConnectionTestResult(
        steps=_assemble(names, check.steps, check.current, error, op.secrets),
        error_kind=error.kind if error else None,
        message=passed if error is None else f"{step_failed(check.current)}: {error.message}",
        latency_ms=_elapsed_ms(start),
        round_trips=op.stats.round_trips,
        auth_scheme=entry.auth_scheme if entry else None,
        registry_origin=entry.registry_origin if entry else None,
        realm_origin=entry.realm_origin if entry else None,
        credential_expires_at=expires_at,
        credential_expiry_known=known,
        pull_quota=entry.pull_quota if entry else None,
    )


class RegistryService:
    """Registry operations for the bot; `await aclose()` (or `async with`) when done."""

    def __init__(
        self, config: RegistryConfig | None = None, minting: MintCache | None = None
    ) -> None:
        self.config = config or RegistryConfig()
        self._http = HttpClient(self.config)
        self._tokens = TokenCache()
        # Minted cloud credentials; services that share one mint once per credential.
        self.minting = minting if minting is not None else MintCache()
        self._drivers: dict[RegistryType, Driver] = {
            info.type: _driver(info.driver, self.config, self.minting) for info in TYPES
        }

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RegistryService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _operation(
        self, target: RepositoryTarget | None = None, tool: RegisteredTool | None = None
    ) -> Operation:
        """A new operation whose outbound rule binds `target`'s (or `tool`'s) credentials to
        the origins they were saved for, before anything is sent."""
        op = Operation(self._http, self.config, self._tokens)
        if target is not None:
            driver = self._drivers[RegistryType(target.type)]
            op.bind_target(target, driver.provider_origins())
        if tool is not None:
            op.bind_tool(tool)
        return op

    async def _attempt(self, op: Operation, test: Awaitable[None]) -> RegistryError | None:
        """Run a test's steps within the operation's time limit; the error that ended them
        (scrubbed of every secret the operation saw), or None when all passed."""
        try:
            await self._bounded(op, test, self.config.operation_timeout)
        except RegistryError as exc:
            return exc.scrubbed(op.secrets)
        return None

    async def _bounded(self, op: Operation, work: Awaitable[T], limit: float) -> T:
        """Run `work` within `limit` seconds; errors come out scrubbed of secrets."""
        try:
            async with asyncio.timeout(limit):
                return await work
        except RegistryError as exc:
            raise exc.scrubbed(op.secrets) from None
        except TimeoutError:
            raise RegistryError(
                ErrorKind.TIMEOUT, f"Gave up after {limit:g} s: the registry is too slow to answer."
            ) from None
        except Exception as exc:
            # Boundary: whatever a registry sends must end in a RegistryError of a known kind;
            # an exception escaping here would leave a modal on "Testing..." and a
            # scheduled check unrecorded.  The log gets the stack, scrubbed of secrets.
            trace = "".join(traceback.format_exception(exc))
            log.error(
                "unexpected %s during a registry operation:\n%s",
                type(exc).__name__,
                scrub(trace, op.secrets),
            )
            raise RegistryError(
                ErrorKind.PROTOCOL,
                "The registry's answer could not be understood (it broke the protocol in an "
                f"unexpected way: {type(exc).__name__}).",
            ) from None

    # -- URL Check ----------------------------------------------------------

    async def url_check(self, url: str, tls: TlsOptions | None = None) -> UrlCheckResult:
        """Prove that `url` speaks the registry API v2 and report the auth scheme it asks for."""
        op = self._operation()
        start = time.perf_counter()
        try:
            base = parse_url(url)
            session = op.session(base, tls or TlsOptions(), None)
            ping = await self._bounded(op, session.ping(), self.config.operation_timeout)
        except RegistryError as exc:
            return UrlCheckResult(
                ok=False,
                error_kind=exc.kind,
                message=scrub(exc.message, op.secrets),
                auth_scheme=None,
                realm=None,
                latency_ms=_elapsed_ms(start),
                round_trips=op.stats.round_trips,
            )
        realm = ping.challenge.realm if ping.challenge else None
        if ping.scheme == "basic":
            asks = "it asks for a username and password (HTTP Basic)"
        elif ping.scheme == "bearer":
            asks = f"it asks for {describe_scheme(ping)}"
        else:
            asks = "it asks for no credentials"
        return UrlCheckResult(
            ok=True,
            error_kind=None,
            message=f"{base.base} speaks the registry API v2; {asks}.",
            auth_scheme=ping.scheme,
            realm=realm,
            latency_ms=_elapsed_ms(start),
            round_trips=op.stats.round_trips,
        )

    # -- Connection Test ----------------------------------------------------

    def expect(self, shared: pass_cache.PassCache, target: RepositoryTarget) -> None:
        """Announce a re-check pass's claimed entry, so that its token scope rides along in
        its credential's next shared token request. No network; entries whose registry
        password is minted (cloud types) or unknown yet are left to ask when they run."""
        driver = self._drivers[RegistryType(target.type)]
        if isinstance(driver, MintingDriver):
            return
        try:
            location = driver.located(target)
        except RegistryError:
            return  # the test itself reports it
        actions = ("pull",) if target.pull_only else ("pull", "push")
        where = pass_cache.CredentialKey(
            location.base.base, location.tls, secret_fingerprint(target.credentials)
        )
        shared.expect(where, repository_scope(location.repository, actions), target.pins)

    async def connection_test(
        self, target: RepositoryTarget, shared: pass_cache.PassCache | None = None
    ) -> ConnectionTestResult:
        """Test reachability, credentials, pull and (unless pull-only) push; never raises
        for registry failures. `shared`: a re-check pass's pings and tokens (pass_cache)."""
        with pass_cache.sharing(shared):
            return await self._connection_test(target)

    async def _connection_test(self, target: RepositoryTarget) -> ConnectionTestResult:
        op = self._operation(target)
        op.remember(target.credentials)
        if target.tool is not None:
            op.remember(target.tool.credentials)
        test = ConnectionTest(op, self._drivers[RegistryType(target.type)], target)
        start = time.perf_counter()
        error = await self._attempt(op, test.run())
        known, expires_at = False, None
        if error is None or error.kind is ErrorKind.AUTHENTICATION_FAILED:
            # Asked only when the registry answered: a down registry is not asked twice.
            known, expires_at = await self._credential_expiry(op, target)
        if test.account is not None and test.account.expires_at is not None:
            # the registry's own API (a hosted registry's) said so during the test itself
            known, expires_at = True, test.account.expires_at
        where = test.location.base.base if test.location else target.registry_url
        repository = test.location.repository if test.location else target.repository
        allowed = "pull" if target.pull_only else "pull and push"
        return _test_result(
            op,
            start,
            step_names(target.pull_only),
            test,
            error,
            f"Connection test passed: {allowed} allowed on {repository} at {where}"
            + (f" ({test.pull_note})." if test.pull_note else "."),
            (known, expires_at),
        )

    async def _credential_expiry(
        self, op: Operation, target: RepositoryTarget
    ) -> tuple[bool, datetime | None]:
        """When the credential expires, where the registry's API says; never fails the test."""
        driver = self._drivers[RegistryType(target.type)]
        try:
            return await self._bounded(
                op, driver.credential_expiry(op, target), self.config.operation_timeout
            )
        except RegistryError as error:  # a lookup failure only means "unknown"
            # (`_bounded` turns every failure of the lookup into a RegistryError)
            log.info("credential expiry unknown: %s", type(error).__name__)
            return False, None

    # -- create / delete ----------------------------------------------------

    async def create_repository(self, target: RepositoryTarget) -> str:
        """Create a new repository (or the namespace it goes into, where the type creates
        that); returns a message for the user."""
        driver = self._drivers[RegistryType(target.type)]
        op = self._operation(target)
        if not type_info(target.type).can_create:
            raise driver.unsupported("be created")
        return await self._bounded(op, driver.create(op, target), self.config.operation_timeout)

    def delete_blocker(self, target: RepositoryTarget) -> str | None:
        """Why the target's saved account cannot delete it in the registry (no network),
        for the delete modal to say before the user confirms; None when it may try."""
        if not type_info(target.type).can_delete_in_ir:
            return None
        return self._drivers[RegistryType(target.type)].delete_blocker(target)

    async def delete_repository(self, target: RepositoryTarget) -> None:
        """Delete the repository in the image registry; raises RegistryError if it cannot."""
        driver = self._drivers[RegistryType(target.type)]
        op = self._operation(target)
        if not type_info(target.type).can_delete_in_ir:
            raise driver.unsupported("be deleted in the registry")
        await self._bounded(
            op, driver.delete(op, target), max(DELETE_TIMEOUT, self.config.operation_timeout)
        )

    # -- registered tools -------------------------------------------------------

    async def test_tool(self, tool: RegisteredTool) -> ConnectionTestResult:
        """Test a registered tool: steps `reachable` (its API answers) and `authenticated`."""
        op = self._operation(tool=tool)
        op.remember(tool.credentials)
        check = load_class(tool_kind(tool.kind).check, ToolCheckBase)(op, tool)
        label = type_info(tool.kind).label
        start = time.perf_counter()
        error = await self._attempt(op, check.run())
        return _test_result(
            op,
            start,
            (STEP_REACHABLE, STEP_AUTHENTICATED),
            check,
            error,
            f"{label} at {tool.url} is reachable and the tool's credentials work.",
        )

    async def list_namespaces(self, tool: RegisteredTool, query: str = "") -> list[str]:
        """Namespaces visible to the tool's account, matching `query` (at most 100), for a
        kind with a namespace picker (`ToolKind.namespace_picker`)."""
        op = self._operation(tool=tool)
        driver = self._drivers[RegistryType(tool.kind)]
        return await self._bounded(
            op, driver.namespaces(op, tool, query), self.config.operation_timeout
        )

    async def list_repositories(self, tool: RegisteredTool, namespace: str) -> list[str]:
        """Repository names (`namespace/name`) in one of the tool's namespaces (at most 100)."""
        op = self._operation(tool=tool)
        driver = self._drivers[RegistryType(tool.kind)]
        return await self._bounded(
            op, driver.repositories(op, tool, namespace), self.config.operation_timeout
        )
