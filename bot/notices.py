"""What a project's channel is told, as typed data: bot/ decides, handlers/ speaks Slack.

A use case (or an incident) queues one of these in the outbox, in the transaction of
the change it reports; the outbox's sender hands it to a `Poster` (handlers/delivery.py)
that words it (handlers/ui/channel.py: the only place its sentences and Block Kit are
built, escaped and cut to Slack's limits) and calls the Web API. So bot/ never holds a
sentence of a channel message nor a Slack type, and a notice queued in one language
can be worded in the project's language when it is sent.

A notice carries names, URLs, kinds and times, never a secret. It is stored as JSON
(`dump` / `load`), so every field is a plain value.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from storage.models import ImageRepository


@dataclass(frozen=True)
class EntryFacts:
    """What a channel message may say about an entry (a copy: the row may change later)."""

    id: int
    access: str
    registry_type: str
    registry_url: str
    repository: str
    username: str | None = None
    last_error_kind: str | None = None
    last_message: str | None = None
    consecutive_failures: int = 0
    last_checked_at: datetime | None = None
    snoozed_by: str | None = None
    snoozed_until: datetime | None = None
    snooze_until_recovered: bool = False

    @classmethod
    def of(cls, repo: ImageRepository) -> EntryFacts:
        """A copy of the row's columns of the same names (each field is one)."""
        values = {field.name: getattr(repo, field.name) for field in fields(cls)}
        values["consecutive_failures"] = repo.consecutive_failures or 0
        values["snooze_until_recovered"] = bool(repo.snooze_until_recovered)
        return cls(**values)


@dataclass(frozen=True)
class _MembersChange:
    """An entry a member (`user_id`) changed."""

    entry: EntryFacts
    user_id: str


@dataclass(frozen=True)
class RepositoryAdded(_MembersChange):
    healthy: bool


@dataclass(frozen=True)
class RepositoryDeleted(_MembersChange):
    in_registry: bool


@dataclass(frozen=True)
class _IncidentMessage:
    """The incident's one message (edited in place), as of `now`."""

    entry: EntryFacts
    since: datetime
    now: datetime


@dataclass(frozen=True)
class FailingAlert(_IncidentMessage):
    """While the incident lasts: the latest error and "failing since"."""


@dataclass(frozen=True)
class RecoveredAlert(_IncidentMessage):
    """Once the incident is over (its buttons removed)."""


@dataclass(frozen=True)
class RecoveredReply:
    entry: EntryFacts
    failing_for: timedelta


@dataclass(frozen=True)
class ExpiryWarning:
    """The expiry incident's message (7 days before), or its thread reply (1 day before:
    `in_thread`, without the buttons the message above already has)."""

    entry: EntryFacts
    expires_at: datetime
    now: datetime
    threshold: int
    in_thread: bool = False


@dataclass(frozen=True)
class ExpiryReplaced:
    entry: EntryFacts


@dataclass(frozen=True)
class PullsLow:
    """An account's pull allowance runs low (where the registry says it); `quota` is its own
    figures in words ("pulls left: 9 of 100 per 6 h")."""

    entry: EntryFacts
    quota: str


Notice = (
    RepositoryAdded
    | RepositoryDeleted
    | FailingAlert
    | RecoveredAlert
    | RecoveredReply
    | ExpiryWarning
    | ExpiryReplaced
    | PullsLow
)

_KINDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        RepositoryAdded,
        RepositoryDeleted,
        FailingAlert,
        RecoveredAlert,
        RecoveredReply,
        ExpiryWarning,
        ExpiryReplaced,
        PullsLow,
    )
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, timedelta):
        return {"seconds": value.total_seconds()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def dump(notice: Notice) -> str:
    """The notice as the outbox stores it."""
    return json.dumps({"notice": type(notice).__name__, "fields": _plain(asdict(notice))})


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"datetime"}:
        return datetime.fromisoformat(value["datetime"])
    if isinstance(value, dict) and set(value) == {"seconds"}:
        return timedelta(seconds=value["seconds"])
    return value


def load(data: Any) -> Notice | None:
    """A stored notice (`dump`'s JSON, parsed), or None when `data` is not one (a row
    queued by an older version holds its Block Kit instead)."""
    if not isinstance(data, dict) or data.get("notice") not in _KINDS:
        return None
    cls = _KINDS[data["notice"]]
    values = {k: _typed(v) for k, v in dict(data.get("fields") or {}).items()}
    entry = values.get("entry")
    if isinstance(entry, dict):
        known = {f.name for f in fields(EntryFacts)}
        values["entry"] = EntryFacts(**{k: _typed(v) for k, v in entry.items() if k in known})
    notice: Notice = cls(**values)
    return notice
