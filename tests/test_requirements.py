"""The rule for tests that need a binary or a server of this machine: without Debian's
docker-registry they are skipped on a developer machine, and fail under REQUIRE_REGISTRY=1
(`.ci/run`), so a green CI run cannot hide that they never ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import registry_server
from tests.support.registry_server import skip_or_fail_without_registry


@pytest.fixture
def no_registry_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_server, "REGISTRY_BINARY", "/nonexistent/docker-registry")


@pytest.mark.usefixtures("no_registry_binary")
def test_missing_registry_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRE_REGISTRY", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_REGISTRY=1"):
        skip_or_fail_without_registry()


@pytest.mark.usefixtures("no_registry_binary")
@pytest.mark.parametrize("value", [None, "", "0", "no"])
def test_missing_registry_skips_on_a_developer_machine(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("REQUIRE_REGISTRY", raising=False)
    else:
        monkeypatch.setenv("REQUIRE_REGISTRY", value)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="docker-registry is not installed"):
        skip_or_fail_without_registry()


def test_ci_run_requires_the_registry_and_postgres() -> None:
    """`.ci/run` is what CI runs: both requirements are on there."""
    script = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "REQUIRE_REGISTRY=1" in script and "REQUIRE_POSTGRES=1" in script
