"""`imagerepo-bot check`: the Connection Test from a terminal, against real registries."""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry import RegistryConfig
from server import check_command
from tests.support.harbor_standin import HarborStandIn
from tests.support.registry_dockerhub import HUB_USER, DockerHubStandIn
from tests.support.registry_server import RegistryServer, TokenRegistry

pytestmark = pytest.mark.registry


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    check_command.add_arguments(parser)
    return parser.parse_args(list(argv))


async def run(
    config: RegistryConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    stdin: str = "",
) -> tuple[int, list[str], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = await check_command.run(parse(*argv), config)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


async def test_passing_test_prints_one_line_per_step_and_exits_0(
    registry_config: RegistryConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    htpasswd_registry: RegistryServer,
    unique_repo: str,
) -> None:
    htpasswd_registry.client("alice", "alice-pass-1").push_image(unique_repo)
    code, lines, err = await run(
        registry_config, monkeypatch, capsys,
        htpasswd_registry.url, "--repository", unique_repo,
        "--username", "alice", "--password-stdin", stdin="alice-pass-1\n",
    )  # fmt: skip
    assert code == 0, lines
    assert [line.split()[:2] for line in lines[:4]] == [
        ["reachable", "ok"], ["authenticated", "ok"], ["pull", "ok"], ["push", "ok"],
    ]  # fmt: skip
    assert lines[4].startswith("PASSED: Connection test passed: pull and push allowed")
    assert len(lines) == 5 and err == ""


async def test_failures_exit_1_and_name_the_error_kind(
    registry_config: RegistryConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    htpasswd_registry: RegistryServer,
    token_registry: TokenRegistry,
    unique_repo: str,
) -> None:
    code, lines, _ = await run(
        registry_config, monkeypatch, capsys,
        htpasswd_registry.url, "--repository", unique_repo,
        "--username", "alice", "--password-stdin", stdin="wrong-secret-9\n",
    )  # fmt: skip
    assert code == 1
    assert lines[1].split()[:2] == ["authenticated", "FAILED"]
    assert lines[-1].startswith("FAILED (authentication_failed): Sign-in failed:")
    assert all("wrong-secret-9" not in line for line in lines)

    token_registry.client("admin", "admin-pass-1").push_image(unique_repo)
    code, lines, _ = await run(
        registry_config, monkeypatch, capsys,
        token_registry.url, "--repository", unique_repo, "--username", "puller", "--password-stdin",
        stdin="puller-pass-1",
    )  # fmt: skip
    assert code == 1
    assert lines[-1] == (
        "FAILED (permission_denied): Push failed: Permission denied: "
        f"user puller may not push to {unique_repo}."
    )

    code, lines, _ = await run(
        registry_config, monkeypatch, capsys,
        token_registry.url, "--repository", unique_repo, "--username", "puller", "--password-stdin",
        "--pull-only", stdin="puller-pass-1",
    )  # fmt: skip
    assert code == 0
    assert [line.split()[0] for line in lines] == ["reachable", "authenticated", "pull", "PASSED:"]


async def test_tls_options(
    registry_config: RegistryConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tls_registry: RegistryServer,
    tmp_path: Path,
    unique_repo: str,
) -> None:
    tls_registry.client("alice", "alice-pass-1").push_image(unique_repo)
    base = (
        tls_registry.url,
        "--repository",
        unique_repo,
        "--username",
        "alice",
        "--password-stdin",
    )
    code, lines, _ = await run(registry_config, monkeypatch, capsys, *base, stdin="alice-pass-1")
    assert code == 1 and lines[-1].startswith("FAILED (tls_error): Not reachable: TLS error")

    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(tls_registry.ca_pem or "")
    code, lines, _ = await run(
        registry_config, monkeypatch, capsys, *base, "--ca-file", str(ca_file), stdin="alice-pass-1"
    )
    assert code == 0, lines
    code, lines, _ = await run(
        registry_config, monkeypatch, capsys, *base, "--insecure", stdin="alice-pass-1"
    )
    assert code == 0, lines


@pytest.mark.parametrize(
    ("argv", "stdin", "phrase"),
    [
        (("--username", "alice"), "", "--username needs --password-stdin"),
        (("--password-stdin",), "x", "--password-stdin needs --username"),
        (("--username", "alice", "--password-stdin"), "", "no password on standard input"),
        (("--insecure", "--ca-file", "/etc/hostname"), "", "contradict each other"),
        (("--ca-file", "/nonexistent/ca.pem"), "", "cannot read it"),
        (("--ca-file", "/etc/hostname"), "", "must contain PEM certificates"),
    ],
)
async def test_bad_usage_exits_2_with_one_line(
    registry_config: RegistryConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    stdin: str,
    phrase: str,
) -> None:
    code, lines, err = await run(
        registry_config,
        monkeypatch,
        capsys,
        "https://r.example",
        "--repository",
        "a/b",
        *argv,
        stdin=stdin,
    )
    assert code == 2
    assert lines == []
    assert err.count("\n") == 1 and phrase in err


async def test_harbor_and_docker_hub_types(
    registry_config: RegistryConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    harbor: HarborStandIn,
    dockerhub: DockerHubStandIn,
) -> None:
    code, lines, _ = await run(
        registry_config, monkeypatch, capsys,
        harbor.url, "--type", "harbor", "--repository", "apps/web", "--username", "dev",
        "--password-stdin", stdin="dev-pass-1\n",
    )  # fmt: skip
    assert code == 0, lines

    dockerhub.add_repository("hubuser/app")
    config = dataclasses.replace(registry_config, dockerhub_api_url=dockerhub.api_url)
    code, lines, _ = await run(
        config, monkeypatch, capsys,
        dockerhub.registry_url, "--type", "dockerhub", "--repository", "hubuser/ghost",
        "--username", HUB_USER[0], "--password-stdin", stdin=HUB_USER[1],
    )  # fmt: skip
    assert code == 1
    assert lines[-1].startswith(
        "FAILED (repository_not_found): Pull failed: Docker Hub has no repository"
    )


def test_module_entry_point_reads_env_and_stdin(htpasswd_registry: RegistryServer) -> None:
    htpasswd_registry.client("alice", "alice-pass-1").push_image("cli/entry")
    env = {**os.environ, "IMAGEREPO_ALLOWED_NETWORKS": "127.0.0.0/8"}
    argv = [sys.executable, "-m", "server.check_command", htpasswd_registry.url, "--repository",
            "cli/entry", "--username", "alice", "--password-stdin"]  # fmt: skip
    done = subprocess.run(
        argv, input="alice-pass-1\n", capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alice-pass-1" not in done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("PASSED:")

    refused = subprocess.run(
        argv, input="alice-pass-1\n", capture_output=True, text=True,
        env={**os.environ, "IMAGEREPO_ALLOWED_NETWORKS": ""}, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[-1].startswith("FAILED (refused_target)")

    bad_env = subprocess.run(
        argv, input="x\n", capture_output=True, text=True,
        env={**os.environ, "IMAGEREPO_ALLOWED_NETWORKS": "10.0.0.1/8"}, timeout=60,
    )  # fmt: skip
    assert bad_env.returncode == 2
    assert "host bits set" in bad_env.stderr
