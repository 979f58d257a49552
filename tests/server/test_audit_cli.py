"""`imagerepo-bot audit` and `audit verify` through the installed console script, on SQLite
and PostgreSQL: the trail printed three ways, tampering named, key rotation recorded."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from storage import audit
from storage.audit import AuditEvent
from storage.db import create_engine, session_factory, transaction


def imagerepo_bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "imagerepo-bot"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "IMAGEREPO_", "DATABASE_URL"))
    }
    return subprocess.run(
        [*command, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _seed(database_url: str, count: int) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            for n in range(1, count + 1):
                async with transaction(session_factory(engine)) as session:
                    await audit.append(
                        session,
                        AuditEvent(
                            team_id="T1",
                            user_id=f"U{n}",
                            user_name=f"Person {n}",
                            action="change-account",
                            project="payments-api" if n % 2 else "web",
                            target_type="registry",
                            target_url="https://registry.example.com",
                            target_repository=f"team/app{n}",
                            fingerprint=f"{n:012x}",
                        ),
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


def _sql(database_url: str, *statements: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_audit_prints_the_trail_as_table_jsonl_and_csv(migrated_url: str) -> None:
    env = {"DATABASE_URL": migrated_url}
    empty = imagerepo_bot("audit", env=env)
    assert empty.returncode == 0 and empty.stdout.startswith("TIME (UTC)"), empty.stderr
    _seed(migrated_url, 4)
    table = imagerepo_bot("audit", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "USER"]
    assert len(lines) == 5 and "U1 (Person 1)" in lines[1] and "change-account" in lines[1]
    assert "team/app4" in lines[4] and "000000000004" in lines[4]

    jsonl = imagerepo_bot("audit", "--project", "payments-api", "--format", "jsonl", env=env)
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["user_id"] for r in records] == ["U1", "U3"]
    assert {r["project"] for r in records} == {"payments-api"}

    out = imagerepo_bot("audit", "--since", "2000-01-01", "--format", "csv", env=env)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["occurred_at"].endswith("Z") and rows[0]["outcome"] == "ok"
    future = imagerepo_bot("audit", "--since", "2999-01-01", "--format", "csv", env=env)
    assert len(future.stdout.splitlines()) == 1  # the header only

    bad = imagerepo_bot("audit", "--since", "last tuesday", env=env)
    assert bad.returncode == 2 and "is not a date" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (["UPDATE audit_records SET user_id = 'UEVIL' WHERE seq = 3"], "record #3"),
        (["DELETE FROM audit_records WHERE seq = 3"], "record #4"),
        (
            # Swap the places of records 2 and 3 (through a free seq: seq is unique).
            [
                "UPDATE audit_records SET seq = 1000 WHERE seq = 2",
                "UPDATE audit_records SET seq = 2 WHERE seq = 3",
                "UPDATE audit_records SET seq = 3 WHERE seq = 1000",
            ],
            "record #2",
        ),
        (["DELETE FROM audit_records WHERE seq = 5"], "record #5"),
    ],
    ids=["changed", "deleted", "reordered", "newest-deleted"],
)
def test_verify_names_the_first_record_that_does_not_match(
    migrated_url: str, tamper: list[str], named: str
) -> None:
    _seed(migrated_url, 5)
    env = {"DATABASE_URL": migrated_url}
    intact = imagerepo_bot("audit", "verify", env=env)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 5 record(s)" in intact.stdout

    _sql(migrated_url, *tamper)
    broken = imagerepo_bot("audit", "verify", env=env)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"audit chain broken at {named}" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_rotate_keys_leaves_one_record_and_no_key(migrated_url: str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = {"DATABASE_URL": migrated_url, "IMAGEREPO_SECRET_KEYS": f"{new},{old}"}
    rotated = imagerepo_bot("rotate-keys", env=env)
    assert rotated.returncode == 0, rotated.stderr
    listed = imagerepo_bot("audit", "--format", "jsonl", env=env)
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(records) == 1
    assert records[0]["action"] == "rotate-keys" and records[0]["outcome"] == "ok"
    assert records[0]["user_id"] == "cli" and "re-encrypted 0 secret(s)" in records[0]["detail"]
    assert old not in listed.stdout and new not in listed.stdout
    assert imagerepo_bot("audit", "verify", env=env).returncode == 0


def _seed_hostile(database_url: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                await audit.append(
                    session,
                    AuditEvent(
                        team_id="T1",
                        user_id="U666",
                        user_name="\x1b]0;owned\x07Eve\x1b[2J\u202ereversed",
                        action="add",
                        project='=HYPERLINK("http://evil.example","click")',
                        target_type="registry",
                        target_url="+cmd|' /C calc'!A0",
                        target_repository="@SUM(1+1)",
                        detail="-2+3\r\n\tnext",
                    ),
                )
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_the_table_escapes_control_characters_typed_in_slack(migrated_url: str) -> None:
    _seed_hostile(migrated_url)
    table = imagerepo_bot("audit", env={"DATABASE_URL": migrated_url})
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "\u202e" not in table.stdout
    assert "\\x1b]0;owned\\x07Eve\\x1b[2J\\u202ereversed" in table.stdout
    assert len(table.stdout.splitlines()) == 2  # the header and one row, whatever the name


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(migrated_url: str) -> None:
    _seed_hostile(migrated_url)
    out = imagerepo_bot("audit", "--format", "csv", env={"DATABASE_URL": migrated_url})
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout
    (row,) = list(csv.DictReader(io.StringIO(out.stdout)))
    assert row["project"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["target_url"] == "'+cmd|' /C calc'!A0"
    assert row["target_repository"] == "'@SUM(1+1)"
    assert row["detail"].startswith("'-2+3")
    for value in row.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    # Ordinary cells are left as they are.
    assert row["user_id"] == "U666" and row["action"] == "add"
