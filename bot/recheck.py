"""Scheduled re-checks: every saved connection tested again, on one instance or many.

One `Rechecker` per process. A *pass* claims due repositories from the
database (`storage.schedule.claim_due`: a lease, FOR UPDATE SKIP LOCKED on
PostgreSQL), tests them with at most `concurrency` connection tests in flight,
and records each result through `bot.usecases.health.apply_result`, the one
place where health changes and channel messages are decided. So the schedule,
the Connection Test button and `/imagerepo check` can never disagree about
what "failing" or "recovered" means, and each change of state is queued once
(in the same transaction as the change, with a dedup key) however many
instances run.

Why the claims are refilled as slots free up rather than one big batch: a
claimed row starts its test at once, so the lease only has to outlast one
test (not a queue behind the semaphore), and the pipeline stays full, which
is what keeps a pass close to N x round trips x latency / concurrency.

Why a pass shares one `registry.pass_cache.PassCache` between its tests: the
entries of a pass mostly share a few registries and credentials, so `/v2/` is
asked once per registry and a token realm once per credential for all its
repositories (the claimed rows are announced to it as they are claimed); each
entry then costs about one request, its own access check (issue #24).

Why results are written in small batches by one writer: a connection test
ends every few milliseconds at full speed, and one transaction per result
would make the database, not the registries, the bottleneck. Each row in a
batch is still checked on its own: written only if this instance still holds
its lease and nobody changed its credentials meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import secrets
import socket
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import metrics
from bot.runtime import Runtime, registry_config
from bot.settings import Settings, SettingsError
from bot.usecases import health
from bot.usecases.errors import SecretUnavailable
from bot.usecases.repositories import saved_target
from registry import ConnectionTestResult, RegistryService, RepositoryTarget
from registry.minting import MintCache
from registry.pass_cache import PassCache
from storage import repositories, schedule
from storage.db import DB_ERRORS as _DB_ERRORS
from storage.db import transaction
from storage.enums import CheckTrigger
from storage.models import utcnow

log = logging.getLogger(__name__)

HISTORY_KEEP = 50
"""Checks kept per repository; older ones are pruned (the list shows the last one)."""

JITTER_FRACTION = 0.1
MAX_JITTER_SECONDS = 300.0
MIN_LEASE_SECONDS = 60.0
MAX_TICK_SECONDS = 5.0
MIN_TICK_SECONDS = 0.2
WRITE_BATCH = 200
SHARD_SIZE = 5
LEASE_VARIABLE = "IMAGEREPO_RECHECK_LEASE"
CLAIM_AHEAD = 1.0
"""Rows claimed beyond the free slots, as a fraction of the concurrency."""
CLAIM_REFILL = 0.5
"""A new claim starts once this fraction of the concurrency has been used up.

Claims of half the concurrency rather than a fifth: each claim is two transactions
(the lease, then loading the rows), and at a fifth they cost a pass about 0.15 ms
of CPU per entry more (bench/README.md); the read-ahead still keeps every slot busy."""


def instance_id() -> str:
    """hostname-pid-random: unique per process, readable in `lease_owner` when debugging."""
    host = socket.gethostname().split(".")[0][:40] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"[:64]


@dataclass(frozen=True)
class RecheckConfig:
    """Timing of the re-checks, derived from the settings (seconds unless said otherwise)."""

    interval: float
    concurrency: int
    alert_after: int
    lease: float
    tick: float
    jitter: float
    history_keep: int = HISTORY_KEEP
    prune_every: float = 600.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        operation_timeout: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> RecheckConfig:
        """Lease = max(60 s, 3 x the longest a connection test may take), unless
        IMAGEREPO_RECHECK_LEASE says otherwise (tests use a few seconds to see a
        crashed instance's claims taken over quickly)."""
        env = os.environ if env is None else env
        interval = settings.recheck_interval
        lease = max(MIN_LEASE_SECONDS, 3 * operation_timeout)
        raw = env.get(LEASE_VARIABLE, "").strip()
        if raw:
            try:
                lease = float(raw)
            except ValueError:
                lease = -1.0
            if not lease > 0 or lease != lease or lease == float("inf"):
                raise SettingsError(f"{LEASE_VARIABLE} must be a positive number of seconds")
        return cls(
            interval=interval,
            concurrency=settings.recheck_concurrency,
            alert_after=settings.alert_after,
            lease=lease,
            tick=min(MAX_TICK_SECONDS, max(MIN_TICK_SECONDS, interval / 10)),
            jitter=min(MAX_JITTER_SECONDS, interval * JITTER_FRACTION),
            prune_every=min(600.0, max(60.0, interval)),
        )

    def next_check(self, checked_at: datetime) -> datetime:
        """Never earlier than one interval after the last check (so no connection is
        checked twice in one interval), plus a random delay that spreads the load of
        connections saved together over time."""
        return checked_at + timedelta(seconds=self.interval + random.uniform(0, self.jitter))  # noqa: S311


def registry_shards(settings: Settings, concurrency: int) -> list[RegistryService]:
    """Registry clients for the re-checks: one per SHARD_SIZE tests in flight.

    The same RegistryService and connection test as the button, but not one
    shared pool: httpcore's connection pool does work proportional to its
    connections on every request (it polls each idle socket), so at 50 tests in
    flight one pool spends ~4 ms of CPU per request on this project's 2-core
    machine against ~1 ms for pools of 10 (bench/README.md); pools of 5 spend
    ~0.1 ms per entry less again (the scan of idle connections grows with the
    square of a pool's size), pools of 2 hardly less than 5. Small pools also
    keep every connection alive (the pool keeps 20 idle), instead of closing and
    reopening most of them at each request. Close them with `aclose`.
    """
    count = max(1, math.ceil(concurrency / SHARD_SIZE))
    minting = MintCache()  # shared: one minted cloud credential per credential and region
    return [RegistryService(registry_config(settings), minting) for _ in range(count)]


@dataclass(frozen=True)
class Job:
    """A claimed repository: what to test, and the user's last change as seen at claim time."""

    repository_id: int
    target: RepositoryTarget
    updated_at: datetime


@dataclass
class PassStats:
    """What one pass did, for the log, the metrics and the benchmark."""

    claimed: int = 0
    recorded: int = 0
    healthy: int = 0
    failing: int = 0
    notified: int = 0
    lost: int = 0  # deleted meanwhile, lease lost, or credentials changed meanwhile
    errors: int = 0
    round_trips: int = 0  # every request of the pass, the shared ones included
    shared_requests: int = 0  # pings and token requests made once for many entries
    seconds: float = 0.0


@dataclass
class _Outcome:
    job: Job
    result: ConnectionTestResult | None  # None: the test itself crashed (a bug), see _test
    checked_at: datetime
    done: asyncio.Future[None] = field(repr=False, default_factory=asyncio.Future)


class Rechecker:
    """Claims, tests and records due repositories for one instance (`owner`)."""

    def __init__(
        self,
        rt: Runtime,
        config: RecheckConfig,
        *,
        owner: str | None = None,
        registries: Sequence[RegistryService] | None = None,
        share: bool = True,
    ) -> None:
        """`share=False` tests every entry on its own (its own ping and token), as
        before pass caches existed: the benchmark's baseline."""
        self.rt = rt
        self.config = config
        self.owner = owner or instance_id()
        # Where the tests go: the runtime's client, or the shards of `registry_shards`.
        self._registries: list[RegistryService] = list(registries or [rt.registry])
        self._load = [0] * len(self._registries)
        self._pass: asyncio.Task[PassStats] | None = None
        self.share = share
        self._stopping = False
        self._last_prune = 0.0
        self.total = PassStats()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.config.lease)

    # -- entry points -------------------------------------------------------------------

    async def tick(self) -> None:
        """The scheduler's job: start a pass unless one is running (then it is a no-op).

        Returns at once: a long pass must not make the scheduler skip ticks with
        warnings, and it keeps claiming newly due rows by itself until none is left.
        """
        if self._stopping or (self._pass is not None and not self._pass.done()):
            return
        self._pass = asyncio.create_task(self._pass_then_prune(), name="recheck-pass")

    async def _pass_then_prune(self) -> PassStats:
        stats = await self.run_due()
        if time.monotonic() - self._last_prune >= self.config.prune_every:
            self._last_prune = time.monotonic()
            await self.prune()
        return stats

    async def run_due(self) -> PassStats:
        """Test every repository due now (and those falling due meanwhile), then return.

        Never raises for database or registry trouble: that is logged, and what
        was claimed but not recorded is re-tested when its lease expires.
        """
        started = time.perf_counter()
        stats = PassStats()
        shared = PassCache() if self.share else None
        writer = _Writer(self, stats)
        writer_task = asyncio.create_task(writer.run(), name="recheck-writer")
        in_flight: set[asyncio.Task[None]] = set()
        ready: deque[Job] = deque()  # claimed, waiting for a free slot
        claiming: asyncio.Task[tuple[list[Job], int]] | None = None
        wanted = 0
        concurrency = self.config.concurrency
        # Claimed ahead of free slots, so a slot that frees up starts its next test at
        # once instead of after a claim's round trips to the database.
        target = concurrency + max(1, int(concurrency * CLAIM_AHEAD))
        refill = max(1, int(concurrency * CLAIM_REFILL))
        exhausted = False
        try:
            while True:
                while ready and len(in_flight) < concurrency:
                    in_flight.add(asyncio.create_task(self._test(ready.popleft(), writer, shared)))
                held = len(ready) + len(in_flight)
                if (
                    claiming is None
                    and not exhausted
                    and not self._stopping
                    and (held <= target - refill or held == 0)
                ):
                    wanted = target - held
                    claiming = asyncio.create_task(self._claim(wanted, stats))
                if claiming is None and not in_flight:
                    break
                waiting: set[asyncio.Task[Any]] = set(in_flight)
                if claiming is not None:
                    waiting.add(claiming)
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if claiming is not None and claiming in done:
                    jobs, claimed = claiming.result()
                    claiming = None
                    stats.claimed += claimed
                    exhausted = claimed < wanted
                    ready.extend(jobs)
                    if shared is not None:
                        self._announce(shared, jobs)
                in_flight -= done
        finally:
            pending: list[asyncio.Task[Any]] = [*in_flight, *([claiming] if claiming else [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if ready:  # only when cancelled: hand the unstarted claims back now
                await self._release([job.repository_id for job in ready])
            writer.close()
            await asyncio.gather(writer_task, return_exceptions=True)
            if shared is not None:
                shared.close()  # its pings and tokens serve this pass only
                stats.shared_requests = shared.stats.round_trips
                stats.round_trips += shared.stats.round_trips
            stats.seconds = time.perf_counter() - started
        if stats.claimed:
            metrics.RECHECK_PASS_SECONDS.observe(stats.seconds)
            log.info(
                "re-checked %d connection(s) in %.1f s: %d healthy, %d failing, "
                "%d channel message(s) queued, %d not recorded",
                stats.recorded,
                stats.seconds,
                stats.healthy,
                stats.failing,
                stats.notified,
                stats.lost + stats.errors,
            )
        self._add_to_total(stats)
        return stats

    async def prune(self) -> int:
        """Keep the newest `history_keep` checks per repository (any instance may run it)."""
        try:
            async with transaction(self.rt.sessions) as session:
                deleted = await schedule.prune_history(session, keep=self.config.history_keep)
        except _DB_ERRORS as error:
            log.warning("pruning the check history failed: %s", _reason(error))
            return 0
        if deleted:
            log.info("pruned %d old connection check(s) from the history", deleted)
        return deleted

    async def stop(self) -> None:
        """Stop claiming, abandon running tests, and hand this instance's leases back
        so another instance re-tests those rows now instead of after the lease."""
        self._stopping = True
        if self._pass is not None and not self._pass.done():
            self._pass.cancel()
            await asyncio.gather(self._pass, return_exceptions=True)
        try:
            async with transaction(self.rt.sessions) as session:
                released = await schedule.release(session, owner=self.owner)
        except _DB_ERRORS as error:
            log.warning("could not release re-check leases (they will expire): %s", _reason(error))
            return
        if released:
            log.info("released %d re-check claim(s) for other instances", released)

    # -- the pipeline -------------------------------------------------------------------

    async def _claim(self, limit: int, stats: PassStats) -> tuple[list[Job], int]:
        """Lease up to `limit` due rows and build their targets; (jobs, rows claimed)."""
        if limit <= 0:
            return [], 0
        now = utcnow()
        try:
            async with transaction(self.rt.sessions) as session:
                ids = await schedule.claim_due(
                    session, owner=self.owner, now=now, limit=limit, lease=self.lease
                )
            if not ids:
                return [], 0
            async with self.rt.sessions() as session:
                rows = await repositories.by_ids(session, ids)
        except _DB_ERRORS as error:
            log.warning("claiming due re-checks failed: %s", _reason(error))
            return [], 0  # counted as nothing claimed: the pass ends, the next tick retries
        jobs: list[Job] = []
        unusable: list[int] = []
        for row in rows:
            try:
                target = saved_target(self.rt, row)
            except (SecretUnavailable, ValueError) as error:
                # Its secret's key was removed from the settings (SecretUnavailable), or
                # a stored type this version does not know (ValueError).
                log.warning("repository #%d cannot be re-checked: %s", row.id, _reason(error))
                unusable.append(row.id)
                continue
            jobs.append(Job(repository_id=row.id, target=target, updated_at=row.updated_at))
        if unusable:
            stats.errors += len(unusable)
            await self._postpone(unusable)
        return jobs, len(ids)

    async def _test(self, job: Job, writer: _Writer, shared: PassCache | None) -> None:
        result: ConnectionTestResult | None
        try:
            shard = self._load.index(min(self._load))
            self._load[shard] += 1
            try:
                result = await self._registries[shard].connection_test(job.target, shared)
            finally:
                self._load[shard] -= 1
        except Exception:
            # Boundary (the scheduler's pass must never die of one test): connection_test
            # reports registry failures in its result, so this is a bug; the row is
            # counted as an error and re-tested when its lease expires.
            log.exception("connection test of repository #%d crashed", job.repository_id)
            result = None
        outcome = _Outcome(job=job, result=result, checked_at=utcnow())
        await writer.submit(outcome)

    def _announce(self, shared: PassCache, jobs: list[Job]) -> None:
        """Tell the pass cache what was claimed, so its tokens are fetched together."""
        for job in jobs:
            try:
                self._registries[0].expect(shared, job.target)
            except Exception as error:  # only a lost prefetch: the test asks for itself
                log.debug("repository #%d not announced: %s", job.repository_id, _reason(error))

    async def _release(self, ids: list[int]) -> None:
        try:
            async with transaction(self.rt.sessions) as session:
                await schedule.release(session, owner=self.owner, ids=ids)
        except _DB_ERRORS as error:
            log.warning("could not release re-check claims (they will expire): %s", _reason(error))

    async def _postpone(self, ids: list[int]) -> None:
        """Skip rows that cannot be tested until the next interval (no hot loop)."""
        try:
            async with transaction(self.rt.sessions) as session:
                rows = await schedule.lock_claimed(session, ids)
                for row in rows.values():
                    if row.lease_owner == self.owner:
                        row.next_check_at = self.config.next_check(utcnow())
                        row.lease_owner = None
                        row.lease_expires_at = None
        except _DB_ERRORS as error:
            log.warning("could not postpone re-checks: %s", _reason(error))

    def _add_to_total(self, stats: PassStats) -> None:
        for name in (
            "claimed",
            "recorded",
            "healthy",
            "failing",
            "notified",
            "lost",
            "errors",
            "round_trips",
            "shared_requests",
        ):
            setattr(self.total, name, getattr(self.total, name) + getattr(stats, name))
        self.total.seconds += stats.seconds


class _Writer:
    """Records finished tests in batches: one transaction for whatever has arrived."""

    def __init__(self, rechecker: Rechecker, stats: PassStats) -> None:
        self.rechecker = rechecker
        self.stats = stats
        self.queue: asyncio.Queue[_Outcome | None] = asyncio.Queue()
        self.max_backlog = max(WRITE_BATCH, 2 * rechecker.config.concurrency)
        self._pending = 0

    @property
    def backlog(self) -> int:
        """Results not written yet (queued or in the transaction being written)."""
        return self._pending

    async def submit(self, outcome: _Outcome) -> None:
        """Queue a result; the test's slot is free at once, so the next test does not
        wait for the database. Only when the writer falls behind (more than
        `max_backlog` results waiting) does the slot stay busy until this result is
        written: claims never run far ahead of the database, and a queued result
        cannot sit there until its lease expires."""
        self._pending += 1
        outcome.done.add_done_callback(self._written)
        self.queue.put_nowait(outcome)
        if self._pending > self.max_backlog:
            await asyncio.shield(outcome.done)

    def _written(self, _future: asyncio.Future[None]) -> None:
        self._pending -= 1

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def run(self) -> None:
        while True:
            first = await self.queue.get()
            if first is None:
                return
            batch = [first]
            closing = False
            while len(batch) < WRITE_BATCH and not self.queue.empty():
                item = self.queue.get_nowait()
                if item is None:
                    closing = True
                    break
                batch.append(item)
            try:
                await self._write_all(batch)
            finally:
                for outcome in batch:
                    if not outcome.done.done():
                        outcome.done.set_result(None)
            if closing:
                return

    async def _write_all(self, batch: list[_Outcome]) -> None:
        try:
            await self._write(batch)
        except Exception as error:
            # Boundary (the scheduler's writer must never die: the pass waits on it): a
            # database failure or one bad row; the rows are retried one by one below and
            # a row that still fails is re-tested when its lease expires.
            if len(batch) == 1:
                self.stats.errors += 1
                log.warning(
                    "recording the re-check of repository #%d failed (re-tested when its "
                    "lease expires): %s",
                    batch[0].job.repository_id,
                    _reason(error),
                )
                return
            # One bad row must not cost the others their results: retry them one by one.
            for outcome in batch:
                await self._write_all([outcome])

    async def _write(self, batch: list[_Outcome]) -> None:
        rc = self.rechecker
        counts = PassStats()
        async with transaction(rc.rt.sessions) as session:
            rows = await schedule.lock_claimed(session, [o.job.repository_id for o in batch])
            for outcome in batch:
                row = rows.get(outcome.job.repository_id)
                if row is None or row.lease_owner != rc.owner:
                    counts.lost += 1  # deleted meanwhile, or our lease expired and was taken
                    continue
                row.lease_owner = None
                row.lease_expires_at = None
                result = outcome.result
                if row.updated_at != outcome.job.updated_at:
                    # Changed while we tested (e.g. a new account): this result is stale.
                    counts.lost += 1
                    row.next_check_at = utcnow()
                elif result is None:
                    counts.errors += 1
                    row.next_check_at = rc.config.next_check(outcome.checked_at)
                else:
                    alerted_before = row.alerted
                    await health.apply_result(
                        session,
                        row,
                        result,
                        trigger=CheckTrigger.SCHEDULED,
                        alert_after=rc.config.alert_after,
                        now=outcome.checked_at,
                    )
                    row.next_check_at = rc.config.next_check(outcome.checked_at)
                    counts.recorded += 1
                    counts.round_trips += result.round_trips
                    if result.ok:
                        counts.healthy += 1
                    else:
                        counts.failing += 1
                    if row.alerted != alerted_before:  # apply_result queued a message
                        counts.notified += 1
        for name in ("recorded", "healthy", "failing", "notified", "lost", "errors", "round_trips"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(counts, name))
        if counts.notified:
            rc.rt.outbox_ready.set()


def _reason(error: BaseException) -> str:
    """One line for the log: the driver's message, without a stack or SQL."""
    text = str(getattr(error, "orig", None) or error) or type(error).__name__
    return text.splitlines()[0][:300]
