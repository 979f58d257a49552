"""Every start-up failure is one line naming what to fix (issue 22, items 5 and 6), and the
bind addresses are settings (issue 18, item 9)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.server.test_cli import run_cli
from tests.support.bot_process import BotProcess, free_port
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.slack_api import SlackApiStandIn

NOBODY = 65534


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Event loop is closed" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- 5. read-only commands never create or migrate --------------------------------------


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit"]])
def test_audit_with_a_mistyped_sqlite_url_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "typo" / "imagerepo.db"
    result = run_cli(*command, env={"DATABASE_URL": f"sqlite:///{missing}"})
    line = one_error_line(result)
    assert f"no database file at {missing}: check DATABASE_URL" in line
    assert "intact" not in result.stdout
    assert not missing.parent.exists()


def test_audit_on_an_unmigrated_sqlite_file_does_not_migrate_it(tmp_path: Path) -> None:
    database = tmp_path / "empty.db"
    database.touch()
    result = run_cli("audit", "verify", env={"DATABASE_URL": f"sqlite:///{database}"})
    assert "has no imagerepo-bot schema" in one_error_line(result)
    assert database.stat().st_size == 0


@pytest.mark.postgres
def test_audit_verify_on_a_mistyped_postgresql_database_is_one_line() -> None:
    with fresh_postgres_database() as url:
        typo = url + "_typo"
        result = run_cli("audit", "verify", env={"DATABASE_URL": typo})
        line = one_error_line(result)
        assert "audit: cannot read the database" in line and "does not exist" in line
        # An existing but empty database is not migrated either.
        empty = run_cli("audit", env={"DATABASE_URL": url})
        assert "has no imagerepo-bot schema" in one_error_line(empty)
        migrated = run_cli("migrate", env={"DATABASE_URL": url})
        assert migrated.returncode == 0, migrated.stderr
        verified = run_cli("audit", "verify", env={"DATABASE_URL": url})
        assert verified.returncode == 0, verified.stderr
        assert "intact" in verified.stdout


def test_audit_works_on_a_migrated_sqlite_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url(tmp_path)}
    assert run_cli("migrate", env=env).returncode == 0
    result = run_cli("audit", "verify", env=env)
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout


# -- 6. SQLite paths that cannot work -----------------------------------------------------


def test_a_sqlite_path_under_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    database = tmp_path / "file" / "sub" / "x.db"
    result = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{database}"})
    line = one_error_line(result)
    assert f"{tmp_path / 'file'} is a file, not a directory" in line
    assert "DATABASE_URL" in line


@pytest.fixture
def foreign_directory(tmp_path: Path) -> Path:
    """A directory owned by another user (a bind-mounted /data owned on the host by
    someone else than the image's user)."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the bot without its file capabilities")
    directory = tmp_path / "foreign"
    directory.mkdir(mode=0o755)
    os.chown(directory, NOBODY, NOBODY)
    return directory


def run_without_privileges(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI as a process that cannot override file permissions (root with every
    capability dropped): the same refusals an unprivileged container user meets."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "IMAGEREPO_", "DATABASE_URL"))
    }
    return subprocess.run(
        [
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
            sys.executable,
            "-m",
            "server.cli",
            *args,
        ],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_directory_it_may_not_create_is_one_line(foreign_directory: Path) -> None:
    database = foreign_directory / "new" / "x.db"
    result = run_without_privileges("migrate", env={"DATABASE_URL": f"sqlite:///{database}"})
    line = one_error_line(result)
    assert f"cannot create the directory {foreign_directory / 'new'} for DATABASE_URL" in line
    assert "Permission denied" in line


def test_a_data_directory_owned_by_another_user_gets_an_ownership_hint(
    foreign_directory: Path,
) -> None:
    database = foreign_directory / "imagerepo.db"
    result = run_without_privileges("migrate", env={"DATABASE_URL": f"sqlite:///{database}"})
    line = one_error_line(result)
    assert f"the SQLite database {database} is not writable by this user" in line
    assert "chown" in line


# -- issue 18, item 9: HOST and METRICS_HOST ----------------------------------------------


def test_metrics_host_binds_the_metrics_port_to_that_address_only(tmp_path: Path) -> None:
    with SlackApiStandIn() as standin:
        process = BotProcess(
            slack_api_url=standin.base_url,
            bot_token=standin.bot_token,
            database_url=sqlite_url(tmp_path),
            log_path=tmp_path / "bot.log",
            metrics_port=True,
            metrics_host="127.0.0.2",  # where BotProcess waits for /healthz
            extra_env={"METRICS_HOST": "127.0.0.2", "HOST": "127.0.0.1"},
        )
        try:
            process.start()
            metrics = f"127.0.0.2:{process.metrics_port}"
            assert httpx.get(f"http://{metrics}/healthz", timeout=5).status_code == 200
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{process.metrics_port}/healthz", timeout=5)
            # HOST=127.0.0.1: the Slack port is not on 127.0.0.2.
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.2:{process.port}/slack/events", timeout=5)
            assert "listening on 127.0.0.1:" in process.log()
            assert f"127.0.0.2:{process.metrics_port} (GET /healthz, GET /metrics)" in process.log()
        finally:
            process.stop()


def test_a_host_that_is_not_an_address_is_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        env={
            "DATABASE_URL": sqlite_url(tmp_path),
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "sig",
            "METRICS_HOST": "internal.example",
            "PORT": str(free_port()),
        },
    )
    assert one_error_line(result) == (
        "imagerepo-bot: METRICS_HOST must be an IP address to listen on, such as 0.0.0.0 "
        "(every interface) or 127.0.0.1, not 'internal.example'"
    )


def test_a_sqlite_path_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{tmp_path}"})
    assert f"DATABASE_URL names {tmp_path}, which is a directory" in one_error_line(result)


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(range(256)) * 20)
    for _ in range(3):  # aiosqlite's "Event loop is closed" came now and then
        result = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{garbage}"})
        assert "file is not a database" in one_error_line(result)
