"""Errors a use case raises; every message is a sentence ready for the user."""

from __future__ import annotations

from collections.abc import Mapping


def N_(message: str) -> str:
    """Marks a constant message for the Korean catalog (handlers/locale): the handler
    that shows it translates it (handlers.ui.i18n.translate); here it stays English."""
    return message


class UseCaseError(Exception):
    """Base class: `str(error)` is safe to show (never a secret, never a stack)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoProject(UseCaseError):
    """The channel has no project yet."""


class PermissionDenied(UseCaseError):
    """The user may not do this (not a project or workspace admin, not the one who added it)."""


class NotFound(UseCaseError):
    """The thing was deleted meanwhile or never existed."""


class Conflict(UseCaseError):
    """It exists already, or is in use."""


class InvalidInput(UseCaseError):
    """One or more fields are wrong; `errors` maps a field name to its message.

    Field names are those of `RepositoryForm` / `ToolForm` (e.g. `registry_url`),
    so a modal can put each message under the right input.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


class SecretUnavailable(UseCaseError):
    """A stored secret cannot be decrypted with the configured keys; nothing was changed."""


class RegistryOperationFailed(UseCaseError):
    """The image registry refused or could not be reached; nothing was changed here."""

    def __init__(self, message: str, *, error_kind: str | None = None) -> None:
        super().__init__(message)
        self.error_kind = error_kind


class TooSoon(UseCaseError):
    """The same person asked for the same thing again too soon; `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
