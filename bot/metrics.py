"""Prometheus metrics served at GET /metrics.

Names and labels are part of the operator's interface: keep them stable.
Every label takes one of a fixed set of values (kinds, statuses, results, error
kinds) or `other`, never ids, URLs or anything a request body says, so the number
of series stays bounded whatever strangers send (issue 11, finding 3).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from registry.errors import ErrorKind
from storage.enums import CheckTrigger

OTHER = "other"
# Payload kinds Slack sends to this app, and `unverified` for requests refused before
# their signature checked out (their body is not believed).
SLACK_KINDS = frozenset(
    {
        "command",
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "event_callback",
        "url_verification",
        "shortcut",
        "message_action",
        "unverified",
    }
)
# Statuses the endpoint answers with (Bolt's and the refusals of server.asgi).
SLACK_STATUSES = frozenset({"200", "400", "401", "404", "408", "413", "500"})
TRIGGERS = frozenset(t.value for t in CheckTrigger)
ERROR_KINDS = frozenset(k.value for k in ErrorKind) | {"none"}

SLACK_REQUESTS = Counter(
    "imagerepo_slack_requests_total",
    "Requests received on POST /slack/events, by payload kind and HTTP status.",
    ["kind", "status"],
)
ACK_SECONDS = Histogram(
    "imagerepo_slack_ack_seconds",
    "Time from receiving a Slack request to answering it (Slack allows 3 s).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
CONNECTION_TESTS = Counter(
    "imagerepo_connection_tests_total",
    "Connection tests run, by trigger, result and error kind.",
    ["trigger", "result", "error_kind"],
)
RECHECK_PASS_SECONDS = Histogram(
    "imagerepo_recheck_pass_seconds",
    "Duration of one scheduled re-check batch on this instance.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
NOTIFICATIONS = Counter(
    "imagerepo_notifications_total",
    "Channel message delivery attempts, by result (sent, failed, held, gave_up).",
    ["result"],
)


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


def slack_kind(kind: str) -> str:
    return _bounded(kind, SLACK_KINDS)


def count_slack_request(kind: str, status: int) -> None:
    SLACK_REQUESTS.labels(kind=slack_kind(kind), status=_bounded(str(status), SLACK_STATUSES)).inc()


def observe_connection_test(trigger: str, ok: bool, error_kind: str | None) -> None:
    CONNECTION_TESTS.labels(
        trigger=_bounded(trigger, TRIGGERS),
        result="ok" if ok else "failed",
        error_kind=_bounded(error_kind or "none", ERROR_KINDS),
    ).inc()


SLACK_TOKEN_FAILURES = Counter(
    "imagerepo_slack_token_failures_total",
    "Web API calls refused because of the bot token (invalid_auth, token_revoked, "
    "account_inactive, not_authed): the app must be reinstalled or the token replaced.",
    ["error"],
)
