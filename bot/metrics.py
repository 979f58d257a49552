"""Prometheus metrics served at GET /metrics.

Names and labels are part of the operator's interface: keep them stable.
Labels take a few fixed values (kinds, results, error kinds), never ids or URLs,
so their number stays bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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


def observe_connection_test(trigger: str, ok: bool, error_kind: str | None) -> None:
    CONNECTION_TESTS.labels(
        trigger=trigger, result="ok" if ok else "failed", error_kind=error_kind or "none"
    ).inc()


SLACK_TOKEN_FAILURES = Counter(
    "imagerepo_slack_token_failures_total",
    "Web API calls refused because of the bot token (invalid_auth, token_revoked, "
    "account_inactive, not_authed): the app must be reinstalled or the token replaced.",
    ["error"],
)
