"""`imagerepo-bot audit [--since DATE] [--project NAME] [--format table|jsonl|csv]` and
`imagerepo-bot audit verify`: the trail in a terminal, and its hash chain checked."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import unicodedata
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import TextIO

from storage import audit
from storage.db import create_engine, session_factory
from storage.models import AuditRecord

COLUMNS = (
    "seq",
    "occurred_at",
    "team_id",
    "user_id",
    "user_name",
    "action",
    "project",
    "target_type",
    "target_url",
    "target_repository",
    "outcome",
    "error_kind",
    "detail",
    "fingerprint",
    "request_id",
    "record_hash",
)
EXIT_BROKEN = 1
# OWASP "CSV Injection": a cell a spreadsheet would read as a formula starts with one of
# these; a leading apostrophe makes it text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def printable(text: str) -> str:
    """`text` with every control and format character (ESC, BEL, CR, DEL, C1 controls,
    bidi overrides) written as an escape, so names typed in Slack cannot drive the
    operator's terminal (`\\x1b]0;...` retitles it, `\\x1b[2J` clears it)."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if ch == " " or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp")
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: controls escaped, formulas neutralised."""
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    return printable(text)


def since_date(value: str) -> datetime:
    """`2026-11-24` or `2026-11-24T09:30` (UTC unless a zone is given)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "verify",
        nargs="?",
        choices=["verify"],
        help="check the hash chain instead: exit 0 when intact, 1 naming the first bad record",
    )
    parser.add_argument("--since", type=since_date, help="only records from this date (UTC)")
    parser.add_argument("--project", help="only this project's records")
    parser.add_argument(
        "--format", choices=["table", "jsonl", "csv"], default="table", help="default: table"
    )


def _value(record: AuditRecord, column: str) -> str:
    value = getattr(record, column)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return "" if value is None else str(value)


def _target(record: AuditRecord) -> str:
    parts = [p for p in (record.target_url, record.target_repository) if p]
    return " ".join(parts) or (record.detail or "")[:40]


async def write(records: AsyncIterator[AuditRecord], output_format: str, out: TextIO) -> None:
    """jsonl and csv stream record by record; the table needs every row for its widths."""
    if output_format == "jsonl":
        async for record in records:
            out.write(json.dumps({c: getattr(record, c) for c in COLUMNS}, default=str) + "\n")
        return
    if output_format == "csv":
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        async for record in records:
            writer.writerow([csv_cell(_value(record, c)) for c in COLUMNS])
        return
    write_table([record async for record in records], out)


def write_table(records: Sequence[AuditRecord], out: TextIO) -> None:
    header = ("TIME (UTC)", "USER", "ACTION", "PROJECT", "TARGET", "OUTCOME", "CREDENTIAL")
    rows = [
        tuple(
            printable(cell)
            for cell in (
                _value(r, "occurred_at"),
                f"{r.user_id} ({r.user_name})" if r.user_name else r.user_id,
                r.action,
                r.project or "-",
                _target(r) or "-",
                r.outcome + (f" ({r.error_kind})" if r.error_kind else ""),
                r.fingerprint or "-",
            )
        )
        for r in records
    ]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
    for row in (header, *rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


async def run(database_url: str, args: argparse.Namespace) -> int:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            if args.verify:
                result = await audit.verify(session)
                print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
                return 0 if result.ok else EXIT_BROKEN
            records = audit.in_order(session, project=args.project, since=args.since)
            await write(records, args.format, sys.stdout)
    finally:
        await engine.dispose()
    return 0
