"""What a connection test result does to a saved repository's health, and who hears of it.

One function for every trigger (save, the Connection Test button, a new account,
the schedule), so the list, the channel and the scheduler never disagree:
- healthy after a failure that was announced: the recovery, in the alert's thread,
  and the alert edited (bot/incidents.py);
- the `alert_after`-th consecutive failure, unless snoozed: one new alert;
- a failure while the alert is up: the alert edited with the latest error;
- anything else: the history and the row change, the channel hears nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import incidents, metrics
from registry import STEP_AUTHENTICATED, ConnectionTestResult, ErrorKind
from storage import repositories
from storage.enums import CheckTrigger, Health
from storage.models import ConnectionCheck, ImageRepository, utcnow


async def apply_result(
    session: AsyncSession,
    repo: ImageRepository,
    result: ConnectionTestResult,
    *,
    trigger: CheckTrigger,
    alert_after: int,
    now: datetime | None = None,
) -> None:
    """Record the result and queue what the channel hears of it, in the caller's transaction."""
    now = now or utcnow()
    result = _expired_is_failing(result, now)
    check = ConnectionCheck(
        checked_at=now,
        trigger=trigger.value,
        ok=result.ok,
        error_kind=result.error_kind.value if result.error_kind else None,
        message=result.message,
        latency_ms=result.latency_ms,
    )
    metrics.observe_connection_test(check.trigger, check.ok, check.error_kind)
    await repositories.record_check(session, repo, check)
    authenticated = any(step.name == STEP_AUTHENTICATED and step.ok for step in result.steps)
    if authenticated and repo.pinned_registry_origin is None:
        # Trust on first use: an entry saved before pins existed (or saved without a
        # test) is pinned to the origins of its first test that got the password accepted.
        repositories.pin_origins(
            repo, registry_origin=result.registry_origin, realm_origin=result.realm_origin
        )
    await incidents.note_expiry(
        session,
        repo,
        known=result.credential_expiry_known,
        expires_at=result.credential_expires_at,
        now=now,
    )
    await incidents.note_pull_quota(session, repo, result.pull_quota, now)
    if result.ok:
        if repo.alerted and repo.failing_since is not None:
            await incidents.close_failing(session, repo, now)
        if repo.health != Health.HEALTHY:
            repo.health_changed_at = now
        repo.health = Health.HEALTHY.value
        repo.consecutive_failures = 0
        repo.failing_since = None
        repo.alerted = False
        if repo.snooze_until_recovered:
            repo.snoozed_by = None
            repo.snooze_until_recovered = False
        return

    if repo.health != Health.FAILING:
        repo.health_changed_at = now
    repo.health = Health.FAILING.value
    repo.consecutive_failures += 1
    if repo.failing_since is None:
        repo.failing_since = now
    if repo.alerted:
        await incidents.refresh_failing(session, repo, now)
    elif repo.consecutive_failures >= alert_after and not incidents.is_snoozed(repo, now):
        await incidents.open_failing(session, repo, now)
        repo.alerted = True


def _expired_is_failing(result: ConnectionTestResult, now: datetime) -> ConnectionTestResult:
    """A credential past its expiry is a failure even if this test still passed.

    A registry refuses an expired robot account at login, but a bearer token issued
    before the expiry stays valid for its lifetime (30 min by default) and is reused:
    the registry's word on the expiry decides at once.
    """
    expires = result.credential_expires_at
    if not result.ok or expires is None or expires > now:
        return result
    return replace(
        result,
        error_kind=ErrorKind.AUTHENTICATION_FAILED,
        message=f"The account expired {expires:%Y-%m-%d %H:%M} UTC; change it.",
    )
