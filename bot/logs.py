"""Logs with the id of the request being served: one JSON object per line for a log
collector, or plain text lines for a person at a terminal (LOG_FORMAT).

Secrets are kept out at the source (nothing logs a password, a token or a view's
state); the redaction below is a second line of defence for tokens that might
reach a log through a third-party message (e.g. an exception text).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_REDACTIONS = (
    (re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]+"), "[redacted]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"(?i)\b(password|passwd|secret|token|access_token)=[^&\s]+"), r"\1=[redacted]"),
)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def request_id_for_reply() -> str:
    """The id of the request being served, for a "something went wrong" reply: the user
    quotes it, the operator finds the log line by it. Outside an HTTP request (Socket
    Mode, a scheduled job) one is made now, so the lines logged next carry it too."""
    current = REQUEST_ID.get()
    if current == "-":
        current = new_request_id()
        REQUEST_ID.set(current)
    return current


WENT_WRONG = "{lead} (it was logged with request id `{request_id}`). Try again."


def went_wrong(
    lead: str = "Something went wrong on our side", *, template: str = WENT_WRONG
) -> str:
    """The generic failure sentence with the request id to quote (call before logging).
    `template` (with `{lead}` and `{request_id}`) lets handlers give it in the reader's
    language."""
    return template.format(lead=lead, request_id=request_id_for_reply())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
            "request_id": REQUEST_ID.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool) else redact(str(value))
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-12-05 12:00:00 INFO  logger: message [request_id]` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        request_id = REQUEST_ID.get()
        line = f"{moment} {record.levelname:<7} {record.name}: {redact(record.getMessage())}"
        if request_id != "-":
            line += f" [request {request_id}]"
        if record.exc_info and record.exc_info[0] is not None:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# Libraries that narrate their own start-up at INFO (Alembic's plug-in set-up and each
# migration step, Bolt's notes on its options): below WARNING only with LOG_LEVEL=debug.
NOISY = (
    "alembic",
    "apscheduler",
    "slack_bolt",
    "slack_sdk",
    "httpx",
    "httpcore",
    "aiosqlite",
    "asyncio",
)


class _DropBoltTokenNote(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and, given our client too,
    warns at every start that "`token` will be unused": true, and nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in str(record.msg)


def configure(level: int | str = logging.INFO, fmt: str = "json") -> None:
    """One handler on stderr for the whole process (uvicorn's loggers included)."""
    number = LEVELS[level] if isinstance(level, str) else level
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    quieter = number if number <= logging.DEBUG else max(number, logging.WARNING)
    for name in NOISY:
        logging.getLogger(name).setLevel(quieter)
    bolt = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _DropBoltTokenNote) for f in bolt.filters):
        bolt.addFilter(_DropBoltTokenNote())
