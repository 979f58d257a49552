"""The console script as a person runs it: one clear line on a bad setting, never a traceback."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from tests.support.bot_process import free_port
from tests.support.databases import sqlite_url


def run_cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "IMAGEREPO_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env={**base, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_without_slack_credentials_stops_with_one_line(tmp_path: Path) -> None:
    result = run_cli("serve", env={"DATABASE_URL": sqlite_url(tmp_path)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("imagerepo-bot:")]
    assert len(lines) == 1 and "manifest.yml" in lines[0] and "SLACK_BOT_TOKEN" in lines[0]


def test_malformed_metrics_port_stops_serve_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        env={
            "DATABASE_URL": sqlite_url(tmp_path),
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "sig",
            "METRICS_PORT": "metrics",
        },
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "imagerepo-bot: METRICS_PORT must be a TCP port number (1-65535), not 'metrics'"
    ]


def test_a_metrics_port_in_use_stops_serve_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = run_cli(
            "serve",
            env={
                "DATABASE_URL": sqlite_url(tmp_path),
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "sig",
                "PORT": str(free_port()),
                "METRICS_PORT": str(busy),
            },
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"imagerepo-bot: cannot listen on METRICS_PORT {busy}: Address already in use" in (
        result.stderr.splitlines()
    )


def test_malformed_database_url_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"DATABASE_URL": "postgres//oops"})
    assert result.returncode == 2
    assert "DATABASE_URL is not a database URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_named_without_its_password() -> None:
    result = run_cli(
        "migrate",
        env={
            "DATABASE_URL": "postgresql://user:hunter2-db-pass@127.0.0.1:1/nowhere",
            "IMAGEREPO_SECRET_KEYS": Fernet.generate_key().decode(),
        },
    )
    assert result.returncode == 2
    assert "cannot migrate the database postgresql://user:***@127.0.0.1:1/nowhere" in result.stderr
    assert "hunter2-db-pass" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_malformed_key_is_named_by_position(tmp_path: Path) -> None:
    result = run_cli(
        "rotate-keys",
        env={"DATABASE_URL": sqlite_url(tmp_path), "IMAGEREPO_SECRET_KEYS": "not-a-fernet-key"},
    )
    assert result.returncode == 2
    assert "key #1 is not a Fernet key" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_then_rotate_keys_generates_a_private_key_file(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path)}
    migrated = run_cli("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "latest schema" in migrated.stdout
    rotated = run_cli("rotate-keys", env=env)
    assert rotated.returncode == 0, rotated.stderr
    key_file = tmp_path / "imagerepo.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "generated a key into" in rotated.stderr
    assert "re-encrypted 0 secret(s)" in rotated.stdout


def test_postgres_without_keys_is_refused_clearly() -> None:
    result = run_cli(
        "rotate-keys", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    )
    assert result.returncode == 2
    assert "IMAGEREPO_SECRET_KEYS must be set" in result.stderr
