"""What a URL Check or a Connection Test found, as plain values for the UI, CLI and DB."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from registry.errors import ErrorKind

STEP_REACHABLE = "reachable"
STEP_AUTHENTICATED = "authenticated"
STEP_PULL = "pull"
STEP_PUSH = "push"

# A failed test's summary names the step in words, not as its code name (issue 19:
# "reachable failed: ..." read like a program's output).
STEP_FAILED = {
    STEP_REACHABLE: "Not reachable",
    STEP_AUTHENTICATED: "Sign-in failed",
    STEP_PULL: "Pull failed",
    STEP_PUSH: "Push failed",
}


def step_failed(step: str) -> str:
    """ "Not reachable", "Sign-in failed", ...: the words before a failed test's reason."""
    return STEP_FAILED.get(step, f"{step.capitalize()} failed")


@dataclass(frozen=True)
class CheckStep:
    """One line of a test: `reachable`, `authenticated`, `pull` or `push`.

    `skipped` marks a step that did not run because an earlier one failed
    (it is not ok, and its detail says so).
    """

    name: str
    ok: bool
    detail: str
    skipped: bool = False


@dataclass(frozen=True)
class PullQuota:
    """A registry's pull allowance as it says (Docker Hub's `ratelimit-limit` /
    `ratelimit-remaining`): `remaining` of `limit` per `window_s` seconds."""

    limit: int
    remaining: int
    window_s: int | None

    def describe(self) -> str:
        window = ""
        if self.window_s:
            hours = self.window_s / 3600
            window = f" per {hours:g} h" if hours >= 1 else f" per {self.window_s} s"
        return f"pulls left: {self.remaining} of {self.limit}{window}"

    @property
    def low(self) -> bool:
        """At most a tenth of the allowance is left: time to tell the channel."""
        return self.limit > 0 and self.remaining * 10 <= self.limit


# What `PullQuota.describe` writes, as found again in a passed test's stored summary.
_QUOTA_NOTE = re.compile(r"pulls left: \d+ of \d+(?: per \d+(?:\.\d+)? [hs])?")


def quota_note(message: str | None) -> str | None:
    """The "pulls left: N of M per W h" a passed test put in its summary (stored as the
    entry's last message), for the list; None when there is none."""
    found = _QUOTA_NOTE.search(message or "")
    return found.group(0) if found else None


@dataclass(frozen=True)
class ConnectionTestResult:
    """Steps in order, the first failure's kind, a one-line summary, and the cost.

    `registry_origin` and `realm_origin` say where the password went (the
    registry API and, for Bearer, its token service), as `scheme://host[:port]`;
    a saved entry is pinned to them (see `OriginPins`).
    """

    steps: tuple[CheckStep, ...]
    error_kind: ErrorKind | None
    message: str
    latency_ms: float
    round_trips: int
    auth_scheme: str | None = None
    registry_origin: str | None = None
    realm_origin: str | None = None
    # When the credential expires, where the registry says (a driver's `credential_expiry`,
    # or its API during the test); `credential_expiry_known` False: nobody said (None with
    # True: never expires).
    credential_expires_at: datetime | None = None
    credential_expiry_known: bool = False
    # The account's pull allowance, where the registry says (Docker Hub); None: not said.
    pull_quota: PullQuota | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and all(step.ok for step in self.steps)

    @property
    def failed_step(self) -> CheckStep | None:
        return next((s for s in self.steps if not s.ok and not s.skipped), None)


@dataclass(frozen=True)
class UrlCheckResult:
    """Whether a URL is a reachable registry API, and how it asks to authenticate.

    `auth_scheme` is `none`, `basic` or `bearer` (None when the check failed);
    `realm` is the token service (Bearer) or the Basic realm.
    """

    ok: bool
    error_kind: ErrorKind | None
    message: str
    auth_scheme: str | None
    realm: str | None
    latency_ms: float = 0.0
    round_trips: int = 0
