"""The audit chain on real SQLite and PostgreSQL: tampering, concurrent writers, pruning."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.audit import AuditEvent, credential_fingerprint, strip_userinfo
from storage.crypto import SecretBox
from storage.db import create_engine, session_factory, transaction
from storage.models import AuditRecord


def _event(n: int, **kw: str) -> AuditEvent:
    return AuditEvent(
        team_id="T1", user_id=f"U{n}", user_name=f"user {n}", action="add", project="p", **kw
    )


async def _append(sessions: async_sessionmaker[AsyncSession], count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        async with transaction(sessions) as session:
            await audit.append(session, _event(n))


async def _verify(sessions: async_sessionmaker[AsyncSession]) -> audit.Verification:
    async with sessions() as session:
        return await audit.verify(session)


async def test_appended_records_form_one_verifiable_chain_and_a_change_is_named(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, 5)
    result = await _verify(sessions)
    assert result.ok and result.checked == 5, result.describe()

    async with transaction(sessions) as session:
        await session.execute(
            update(AuditRecord).where(AuditRecord.seq == 3).values(outcome="refused")
        )
    result = await _verify(sessions)
    assert not result.ok and result.broken_seq == 3
    assert "does not match its hash" in result.describe()


async def test_a_rolled_back_change_leaves_no_record_and_the_chain_intact(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, 2)
    try:
        async with transaction(sessions) as session:
            await audit.append(session, _event(99))
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    await _append(sessions, 1, start=2)
    async with sessions() as session:
        rows = await audit.records(session, newest_first=False)
    assert [r.user_id for r in rows] == ["U0", "U1", "U2"]
    assert [r.seq for r in rows] == [1, 2, 3]
    assert (await _verify(sessions)).ok


async def test_two_instances_writing_at_once_keep_one_valid_chain(migrated_url: str) -> None:
    """Two engines (two connection pools, as two processes have), each with several
    concurrent writers: every record lands once, in one unbroken chain."""
    engines = [create_engine(migrated_url), create_engine(migrated_url)]
    try:
        makers = [session_factory(e) for e in engines]

        async def writer(maker: async_sessionmaker[AsyncSession], base: int) -> None:
            for n in range(base, base + 10):
                async with transaction(maker) as session:
                    await audit.append(session, _event(n))

        await asyncio.wait_for(
            asyncio.gather(
                *(writer(makers[i % 2], 100 * i) for i in range(6)),
            ),
            timeout=120,
        )
        result = await _verify(makers[0])
        assert result.ok and result.checked == 60, result.describe()
        async with makers[1]() as session:
            rows = await audit.records(session, newest_first=False)
        assert [r.seq for r in rows] == list(range(1, 61))
        assert len({r.user_id for r in rows}) == 60
    finally:
        for engine in engines:
            await engine.dispose()


async def test_pruning_keeps_the_rest_verifiable_from_its_anchor(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _append(sessions, 6)
    old = datetime.now(UTC) - timedelta(days=500)
    async with transaction(sessions) as session:
        # Age the first four (as if written long ago); their hashes are then recomputed
        # as the writer would have, so only pruning is under test.
        for record in await audit.records(session, newest_first=False, limit=4):
            record.occurred_at = old
        await session.flush()
    async with transaction(sessions) as session:
        rows = await audit.records(session, newest_first=False)
        prev = audit.GENESIS
        for record in rows:
            record.prev_hash = prev
            record.record_hash = audit.record_hash(record)
            prev = record.record_hash
        await session.execute(text("UPDATE audit_head SET head_hash = :h"), {"h": prev})
    assert (await _verify(sessions)).ok

    async with transaction(sessions) as session:
        pruned = await audit.prune(session, datetime.now(UTC) - timedelta(days=400))
    assert pruned == 4
    result = await _verify(sessions)
    assert result.ok and result.checked == 2, result.describe()

    await _append(sessions, 1, start=6)
    assert (await _verify(sessions)).ok

    # Removing the oldest remaining record is still detected after pruning.
    async with transaction(sessions) as session:
        await session.execute(text("DELETE FROM audit_records WHERE seq = 5"))
    result = await _verify(sessions)
    assert not result.ok and result.broken_seq == 6 and "#5 is missing" in result.reason


def test_urls_lose_their_userinfo_and_fingerprints_are_keyed(fernet_key: str) -> None:
    assert strip_userinfo("https://bob:hunter2@reg.example.com/v2") == "https://reg.example.com/v2"
    assert strip_userinfo("https://reg.example.com:5000") == "https://reg.example.com:5000"
    key = SecretBox([fernet_key]).hkdf_key("audit")
    again = SecretBox([fernet_key]).hkdf_key("audit")
    first = credential_fingerprint(key, "alice", "s3cret-A")
    assert first is not None and len(first) == 12 and int(first, 16) >= 0
    assert credential_fingerprint(again, "alice", "s3cret-A") == first
    assert credential_fingerprint(key, "alice", "s3cret-B") != first
    from cryptography.fernet import Fernet

    other = SecretBox([Fernet.generate_key().decode()]).hkdf_key("audit")
    assert credential_fingerprint(other, "alice", "s3cret-A") != first
    assert credential_fingerprint(key, "alice", None) is None


async def test_the_scheduler_job_prunes_past_the_configured_retention(migrated_url: str) -> None:
    """`IMAGEREPO_AUDIT_RETENTION_DAYS` decides; what is younger stays, the chain verifies."""
    from cryptography.fernet import Fernet

    from bot.runtime import Runtime
    from bot.settings import Settings
    from server.scheduling import prune_audit

    rt = Runtime.create(
        Settings(
            database_url=migrated_url,
            secret_keys=(Fernet.generate_key().decode(),),
            audit_retention_days=30,
        )
    )
    try:
        await _append(rt.sessions, 3)
        async with transaction(rt.sessions) as session:
            rows = await audit.records(session, newest_first=False)
            rows[0].occurred_at = datetime.now(UTC) - timedelta(days=31)
            prev = audit.GENESIS
            for record in rows:
                record.prev_hash = prev
                record.record_hash = audit.record_hash(record)
                prev = record.record_hash
            await session.execute(text("UPDATE audit_head SET head_hash = :h"), {"h": prev})
        await prune_audit(rt)
        async with rt.sessions() as session:
            left = await audit.records(session, newest_first=False)
        assert [r.user_id for r in left] == ["U1", "U2"]
        assert (await _verify(rt.sessions)).ok
        await prune_audit(rt)  # nothing older left: a no-op
        assert (await _verify(rt.sessions)).checked == 2
    finally:
        await rt.aclose()
