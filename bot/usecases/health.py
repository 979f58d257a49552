"""What a connection test result does to a saved repository's health, and who hears of it.

One function for every trigger (save, the Connection Test button, a new account,
the schedule), so the list, the channel and the scheduler never disagree:
- healthy after a failure that was announced: one "recovered" message;
- the `alert_after`-th consecutive failure: one "failing" message;
- anything else: the history and the row change, the channel hears nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot import messages, metrics, outbox
from registry import STEP_AUTHENTICATED, ConnectionTestResult
from storage import repositories
from storage.models import CheckTrigger, Health, ImageRepository, utcnow


async def apply_result(
    session: AsyncSession,
    repo: ImageRepository,
    result: ConnectionTestResult,
    *,
    trigger: CheckTrigger,
    alert_after: int,
    now: datetime | None = None,
) -> None:
    """Record the result and queue at most one channel message, in the caller's transaction."""
    now = now or utcnow()
    if result.credential_expires_at is not None:
        repo.credential_expires_at = result.credential_expires_at
    metrics.observe_connection_test(
        trigger.value, result.ok, result.error_kind.value if result.error_kind else None
    )
    await repositories.record_check(
        session,
        repo,
        ok=result.ok,
        error_kind=result.error_kind.value if result.error_kind else None,
        message=result.message,
        latency_ms=result.latency_ms,
        trigger=trigger.value,
        checked_at=now,
    )
    project = repo.project
    authenticated = any(step.name == STEP_AUTHENTICATED and step.ok for step in result.steps)
    if authenticated and repo.pinned_registry_origin is None:
        # Trust on first use: an entry saved before pins existed (or saved without a
        # test) is pinned to the origins of its first test that got the password accepted.
        repositories.pin_origins(
            repo, registry_origin=result.registry_origin, realm_origin=result.realm_origin
        )
    if result.ok:
        if repo.alerted and repo.failing_since is not None:
            note = messages.repository_recovered(repo, failing_for=now - repo.failing_since)
            await outbox.enqueue(
                session,
                dedup_key=f"recovered:{repo.id}:{repo.failing_since.isoformat()}",
                team_id=project.team_id,
                channel_id=project.channel_id,
                text=note.text,
                blocks=note.blocks,
            )
        if repo.health != Health.HEALTHY:
            repo.health_changed_at = now
        repo.health = Health.HEALTHY.value
        repo.consecutive_failures = 0
        repo.failing_since = None
        repo.alerted = False
        return

    if repo.health != Health.FAILING:
        repo.health_changed_at = now
    repo.health = Health.FAILING.value
    repo.consecutive_failures += 1
    if repo.failing_since is None:
        repo.failing_since = now
    if not repo.alerted and repo.consecutive_failures >= alert_after:
        note = messages.repository_failing(repo, since=repo.failing_since)
        await outbox.enqueue(
            session,
            dedup_key=f"failing:{repo.id}:{repo.failing_since.isoformat()}",
            team_id=project.team_id,
            channel_id=project.channel_id,
            text=note.text,
            blocks=note.blocks,
        )
        repo.alerted = True
