"""Any number of instances may start and migrate at once (issue 22, item 4): several
`imagerepo-bot migrate` processes on one fresh database, and `rotate-keys` racing them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.databases import fresh_postgres_database, sqlite_url

ROUNDS = 3
PROCESSES = 3


def start(command: str, env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "IMAGEREPO_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", command],
        env={**base, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_all(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out + err))
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_three_migrates_at_once_on_a_fresh_postgresql_database_all_succeed(
    round_number: int,
) -> None:
    with fresh_postgres_database() as url:
        env = {"DATABASE_URL": url}
        results = finish_all([start("migrate", env) for _ in range(PROCESSES)])
        for code, output in results:
            assert code == 0, output
            assert "is at the latest schema" in output
            assert "Traceback" not in output


@pytest.mark.postgres
def test_rotate_keys_racing_first_starts_succeeds() -> None:
    with fresh_postgres_database() as url:
        env = {"DATABASE_URL": url, "IMAGEREPO_SECRET_KEYS": Fernet.generate_key().decode()}
        processes = [start("migrate", env), start("rotate-keys", env), start("migrate", env)]
        for code, output in finish_all(processes):
            assert code == 0, output
            assert "Traceback" not in output


def test_three_migrates_at_once_on_a_fresh_sqlite_file_all_succeed(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path)}
    for code, output in finish_all([start("migrate", env) for _ in range(PROCESSES)]):
        assert code == 0, output
        assert "Traceback" not in output
