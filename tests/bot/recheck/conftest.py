"""Fixtures for the re-check tests: a Runtime on each database, with a scripted registry."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.recheck import RecheckConfig, Rechecker
from bot.runtime import Runtime
from bot.settings import Settings
from registry import (
    ConnectionTestResult,
    ErrorKind,
    RegistryConfig,
    RegistryService,
    RepositoryTarget,
)
from registry.results import CheckStep
from storage.crypto import SecretBox
from storage.db import create_engine, session_factory


class ScriptedRegistry:
    """Stands in for RegistryService in the scheduler's unit tests only: answers ok, or
    fails for the URLs in `down`, after `delay` seconds, and records what it was asked.

    The real registry client is exercised against a real registry server in
    test_recheck_registry.py and the process tests; this one controls timing
    (slow tests, a hook run while a test is in flight) that those cannot.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.down: set[str] = set()
        self.tested: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.during_test: Callable[[RepositoryTarget], object] | None = None

    def expect(self, shared: object, target: RepositoryTarget) -> None:
        """A claimed entry announced to the pass (the real client prefetches its token)."""

    async def connection_test(
        self, target: RepositoryTarget, shared: object = None
    ) -> ConnectionTestResult:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.tested.append(target.repository)
            if self.during_test is not None:
                outcome = self.during_test(target)
                if asyncio.iscoroutine(outcome):
                    await outcome
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if target.registry_url in self.down:
            return ConnectionTestResult(
                steps=(CheckStep("reachable", False, "connection refused"),),
                error_kind=ErrorKind.CONNECTION_REFUSED,
                message=f"Cannot connect to {target.registry_url}: connection refused.",
                latency_ms=1.0,
                round_trips=1,
            )
        return ConnectionTestResult(
            steps=(CheckStep("reachable", True, "ok"), CheckStep("pull", True, "ok")),
            error_kind=None,
            message="Pull access works.",
            latency_ms=1.0,
            round_trips=2,
        )

    async def aclose(self) -> None:
        return None


@pytest.fixture
def scripted() -> ScriptedRegistry:
    return ScriptedRegistry()


def settings_for(url: str, fernet_key: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "secret_keys": (fernet_key,),
        "recheck_interval": 3600.0,
        "recheck_concurrency": 10,
        "alert_after": 2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def runtime(
    migrated_url: str, fernet_key: str, box: SecretBox, scripted: ScriptedRegistry
) -> AsyncIterator[Runtime]:
    engine = create_engine(migrated_url)
    rt = Runtime(
        settings=settings_for(migrated_url, fernet_key),
        engine=engine,
        sessions=session_factory(engine),
        box=box,
        registry=scripted,  # type: ignore[arg-type]
    )
    try:
        yield rt
    finally:
        await engine.dispose()


@pytest.fixture
async def real_runtime(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The package's runtime with the real registry client (loopback only) in place of
    the scripted one."""
    service = RegistryService(
        RegistryConfig(
            allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            connect_timeout=2.0,
            read_timeout=3.0,
            operation_timeout=10.0,
        )
    )
    try:
        yield replace(runtime, registry=service)
    finally:
        await service.aclose()


@pytest.fixture
def make_rechecker(runtime: Runtime) -> Callable[..., Rechecker]:
    def make(owner: str = "test-instance", **overrides: object) -> Rechecker:
        config = replace(RecheckConfig.from_settings(runtime.settings, env={}), **overrides)  # type: ignore[arg-type]
        return Rechecker(runtime, config, owner=owner)

    return make


@pytest.fixture
def rt_sessions(runtime: Runtime) -> async_sessionmaker[AsyncSession]:
    return runtime.sessions
