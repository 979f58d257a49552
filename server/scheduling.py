"""Background jobs started with the server: scheduled re-checks and outbox delivery.

- APScheduler's AsyncIOScheduler runs one job per instance, `recheck`, every
  tick (interval / 10, between 0.2 and 5 s). A tick starts a re-check pass
  unless one is running; the pass claims whatever is due in the database, so
  the per-repository interval lives in `next_check_at`, not in the scheduler,
  and survives restarts and is shared by every instance (bot/recheck.py).
- The outbox sender is a plain task: it wakes when anything queues a channel
  message (`runtime.outbox_ready`) or every few seconds (messages queued by
  another instance, retries after a Slack failure), and sends what is due with
  `bot.outbox.deliver_pending`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import outbox
from bot.recheck import RecheckConfig, Rechecker, instance_id, registry_shards
from bot.runtime import Runtime, registry_config
from registry import RegistryService
from storage.db import DB_ERRORS

log = logging.getLogger(__name__)

AUDIT_PRUNE_SECONDS = 3600.0
OUTBOX_POLL_SECONDS = 2.0
OUTBOX_BATCH = 50
FINAL_DELIVERY_SECONDS = 3.0
MAX_ROUNDS = 20


@dataclass
class Background:
    """What `start` started for one runtime, so that `stop` can stop exactly that."""

    owner: str
    scheduler: AsyncIOScheduler
    rechecker: Rechecker
    sender: asyncio.Task[None]
    registries: list[RegistryService]


_running: dict[int, Background] = {}


def running(runtime: Runtime) -> Background | None:
    """The jobs `start` started for this runtime (tests and diagnostics look inside)."""
    return _running.get(id(runtime))


async def start(runtime: Runtime) -> None:
    """Start the re-check scheduler and the outbox sender for this process."""
    config = RecheckConfig.from_settings(
        runtime.settings, operation_timeout=registry_config(runtime.settings).operation_timeout
    )
    owner = instance_id()
    shards = registry_shards(runtime.settings, config.concurrency)
    rechecker = Rechecker(runtime, config, owner=owner, registries=shards)
    # APScheduler logs every run of every job at INFO: two lines per tick, which would
    # drown the log with a short interval. Failures are still logged (WARNING/ERROR).
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
    scheduler.add_job(
        rechecker.tick,
        IntervalTrigger(seconds=config.tick, timezone=UTC),
        id="recheck",
        name="scheduled re-checks",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        prune_audit,
        IntervalTrigger(seconds=AUDIT_PRUNE_SECONDS, timezone=UTC),
        args=[runtime],
        id="audit-prune",
        name="audit trail retention",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC) + timedelta(seconds=30),
    )
    scheduler.start()
    sender = asyncio.create_task(deliver_forever(runtime, owner=owner), name="outbox-sender")
    background = Background(
        owner=owner, scheduler=scheduler, rechecker=rechecker, sender=sender, registries=shards
    )
    _running[id(runtime)] = background
    runtime.outbox_sender_running = True
    log.info(
        "scheduled re-checks every %s s (concurrency %d, alert after %d failures, lease %s s) "
        "as instance %s",
        f"{config.interval:g}",
        config.concurrency,
        config.alert_after,
        f"{config.lease:g}",
        owner,
    )


async def stop(runtime: Runtime) -> None:
    """Stop the jobs started by `start`: no new claims, leases handed back, the outbox
    given a last few seconds to send what is queued (the rest waits in the database)."""
    background = _running.pop(id(runtime), None)
    if background is None:
        return
    runtime.outbox_sender_running = False
    background.scheduler.shutdown(wait=False)
    await background.rechecker.stop()
    # Safe mid-send: deliver_pending finishes (and records) the message in hand and hands
    # back the ones it had not tried.
    background.sender.cancel()
    await asyncio.gather(background.sender, return_exceptions=True)
    for service in background.registries:
        with contextlib.suppress(Exception):
            await service.aclose()
    if runtime.poster is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                deliver_due(runtime, owner=background.owner), FINAL_DELIVERY_SECONDS
            )


async def prune_audit(runtime: Runtime) -> None:
    """Drop audit records past IMAGEREPO_AUDIT_RETENTION_DAYS; a failure waits for the next run."""
    from bot.usecases.audit import prune_expired

    try:
        pruned = await prune_expired(runtime)
    except DB_ERRORS as error:
        log.warning("pruning the audit trail failed, retrying later: %s", type(error).__name__)
        return
    if pruned:
        log.info(
            "pruned %d audit record(s) older than %d days",
            pruned,
            runtime.settings.audit_retention_days,
        )


async def deliver_due(runtime: Runtime, *, owner: str) -> int:
    """Send every channel message that is due now; how many were sent."""
    poster = runtime.poster
    if poster is None:
        return 0
    total = 0
    # Rounds until one sends nothing: a post sent in one round makes its incident's
    # edits and thread replies due in the next. Bounded, in case of a steady stream.
    for _ in range(MAX_ROUNDS):
        sent = await outbox.deliver_pending(
            runtime.sessions, poster, owner=owner, limit=OUTBOX_BATCH
        )
        total += sent
        if sent == 0:
            break
    return total


async def deliver_forever(
    runtime: Runtime, *, owner: str, poll: float = OUTBOX_POLL_SECONDS
) -> None:
    """The sender loop; it never dies of a database or Slack failure, it logs and waits."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.outbox_ready.wait(), poll)
        runtime.outbox_ready.clear()
        try:
            await deliver_due(runtime, owner=owner)
        except Exception as error:
            # Boundary (the outbox sender loop must never die): a database or Slack
            # failure, or a bug in one message; the rows stay due and are retried.
            reason = str(getattr(error, "orig", None) or error).splitlines()[0:1]
            log.warning(
                "sending channel messages failed, retrying: %s",
                reason[0] if reason else type(error).__name__,
            )
