"""The domain's enumerations: shared by the use cases, the UI and the ORM.

Stored as short strings (see storage.models); kept apart from the ORM so that
code that only needs a value (handlers, messages) does not import the tables.
"""

from __future__ import annotations

from enum import StrEnum


class RepositoryAccess(StrEnum):
    """App repositories are pushed to by CI; pull-only ones are only read."""

    APP = "app"
    PULL_ONLY = "pull_only"


class Health(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    FAILING = "failing"


class CheckTrigger(StrEnum):
    MANUAL = "manual"
    SAVE = "save"
    SCHEDULED = "scheduled"


class IncidentKind(StrEnum):
    FAILING = "failing"
    EXPIRY = "expiry"


class OutboxKind(StrEnum):
    POST = "post"  # chat.postMessage at the channel's top level
    UPDATE = "update"  # chat.update of the incident's message
    REPLY = "reply"  # chat.postMessage in the incident's thread
