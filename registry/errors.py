"""Error kinds a user understands, and the one exception the package raises.

Every failure that leaves `registry/` is a `RegistryError` with a kind (stored
in the database as its lowercase value, so values never change) and a one-line
message written for the person who clicked the button.  Messages are built from
our own words plus URLs and names; anything a server sends back is shortened,
and `scrub` removes known secrets before a message leaves a session.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum

MAX_MESSAGE_LENGTH = 400
MAX_SERVER_TEXT = 160


class ErrorKind(StrEnum):
    """Why a registry operation failed; the values are stored, never rename them."""

    INVALID_URL = "invalid_url"
    REFUSED_TARGET = "refused_target"
    DNS_FAILURE = "dns_failure"
    CONNECTION_REFUSED = "connection_refused"
    NETWORK_ERROR = "network_error"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    NOT_A_REGISTRY = "not_a_registry"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    REPOSITORY_NOT_FOUND = "repository_not_found"
    INVALID_REPOSITORY = "invalid_repository"
    RATE_LIMITED = "rate_limited"
    REGISTRY_ERROR = "registry_error"
    DELETE_UNSUPPORTED = "delete_unsupported"
    ALREADY_EXISTS = "already_exists"
    UNSUPPORTED_OPERATION = "unsupported_operation"
    # The registry (or its token realm) is not at the origin pinned when the entry
    # was saved: the saved password is not sent there until it is entered again.
    ORIGIN_CHANGED = "origin_changed"
    # The registry's answer broke the protocol in a way nothing else describes.
    PROTOCOL = "protocol"


def one_line(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Collapse whitespace (Slack rows and CLI lines are single lines) and cap the length."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def server_text(text: str) -> str:
    """Shorten text that a server sent so that it cannot flood a message."""
    return one_line(text, MAX_SERVER_TEXT)


class RegistryError(Exception):
    """A failure with a kind and a message a user understands; `str(e)` is the message."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        self.kind = ErrorKind(kind)
        self.message = one_line(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"RegistryError({self.kind.value!r}, {self.message!r})"

    def scrubbed(self, secrets: Iterable[str]) -> RegistryError:
        """The same error with every known secret removed from its message."""
        clean = scrub(self.message, secrets)
        if clean == self.message:
            return self
        return RegistryError(self.kind, clean)


def refusal(status: int, answers: Mapping[int, tuple[ErrorKind, str]]) -> RegistryError | None:
    """The caller's own words for an answer it knows (by HTTP status), or None: then the
    caller's general classification speaks (`refusal(...) or api.error(...)`)."""
    known = answers.get(status)
    return RegistryError(*known) if known else None


def unexpected_answer(who: str, status: int, what: str, said: str = "") -> RegistryError:
    """An answer nobody expected: `who` answered HTTP `status` to `what` (`said`: its words).
    A success status with the wrong body (a proxy's login page) is said to confirm nothing."""
    if 200 <= status < 300:
        return RegistryError(
            ErrorKind.REGISTRY_ERROR,
            f"{who} answered HTTP {status} to {what}, but not with the answer expected (a web "
            f"page?){said}; it is not counted as done.",
        )
    return RegistryError(ErrorKind.REGISTRY_ERROR, f"{who} answered HTTP {status} to {what}{said}.")


_MIN_SECRET_LENGTH = 3


def secret_forms(secret: str, username: str | None = None) -> list[str]:
    """The ways a secret can show up in text: plain, and inside a Basic header."""
    forms = [secret]
    if username is not None:
        forms.append(base64.b64encode(f"{username}:{secret}".encode()).decode("ascii"))
    return [f for f in forms if len(f) >= _MIN_SECRET_LENGTH]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of any secret (longest first) with `***`.

    A secret longer than the text cannot occur in it (a literal pattern matches as
    many characters as it has, IGNORECASE too), so it is not searched for: a re-check's
    step details are a line long and its tokens several KB, and escaping and
    compiling such a token for every line cost about 0.5 ms of CPU per entry."""
    for secret in sorted(
        {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        if len(secret) <= len(text):  # the text only shrinks: "***" is never longer
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    return text
