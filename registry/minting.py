"""Minted registry credentials and the cache that keeps them until 80 % of their lifetime.

Cloud registries take no stored password: their drivers (`MintingDriver`) mint one
from the stored key, valid from about an hour to 12 hours (each driver module says
how and for how long).  Storing the minted value is the classic failure (auth breaks
when it expires), so only the long-lived credential is stored and the minted one
lives here, in memory.

The cache is keyed by a keyed hash of the long-lived credential and where it
is used (region, registry), never by the secret itself: many entries sharing
one credential (a scheduled re-check of 1,000 repositories of one cloud account)
mint once.
Concurrent misses for one key wait for a single mint (one lock per key).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from registry.errors import RegistryError
from registry.lru import fresh
from registry.target import Credentials

LIFETIME_SHARE = 0.8
# A refused mint is remembered this long, so 1,000 entries sharing a revoked key ask
# the provider once per pass, not 1,000 times in a row.
FAILURE_TTL = timedelta(seconds=60)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Minted:
    """A registry credential minted from a long-lived one; `how` says by what, for the UI."""

    credentials: Credentials
    expires_at: datetime
    how: str = ""
    extra_secrets: tuple[str, ...] = field(default=(), repr=False)

    def describe_expiry(self) -> str:
        return self.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_KEY = secrets.token_bytes(32)


def mint_key(*parts: str) -> str:
    """A keyed hash of the credential and where it is used: safe to log, useless to steal."""
    material = "\x1f".join(parts).encode()
    return hmac.new(_KEY, material, hashlib.sha256).hexdigest()[:24]


class MintCache:
    """Minted credentials per key until 80 % of their lifetime has passed.

    `clock` is the wall clock (minted credentials carry absolute expiry times);
    tests inject one to step past a token's lifetime.  `mints` counts the calls
    that reached a provider, per kind, for benchmarks and tests.  A refused mint
    is remembered for FAILURE_TTL (the same error, no new call).
    """

    def __init__(self, clock: Clock = utc_now, max_entries: int = 4096) -> None:
        self.clock = clock
        self._entries: OrderedDict[str, tuple[Minted, datetime]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, tuple[RegistryError, datetime]] = {}
        self._max = max_entries
        self.mints: dict[str, int] = {}

    def _fresh(self, key: str) -> Minted | None:
        return fresh(self._entries, key, self.clock())

    async def get(self, kind: str, key: str, mint: Callable[[], Awaitable[Minted]]) -> Minted:
        """The cached credential for `key`, or a new one from `mint()` (one mint at a time)."""
        cached = self._fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            failure = self._failures.get(key)
            if failure is not None and self.clock() < failure[1]:
                raise failure[0]
            self.mints[kind] = self.mints.get(kind, 0) + 1
            try:
                minted = await mint()
            except RegistryError as error:
                self._failures[key] = (error, self.clock() + FAILURE_TTL)
                raise
            self._failures.pop(key, None)
            now = self.clock()
            lifetime = minted.expires_at - now
            if lifetime > timedelta(0):
                self._entries[key] = (minted, now + lifetime * LIFETIME_SHARE)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    old, _ = self._entries.popitem(last=False)
                    self._locks.pop(old, None)
            if len(self._failures) > self._max:
                self._failures.clear()
            return minted

    def forget(self, key: str) -> None:
        """Drop a credential (or a remembered refusal): the next use mints anew."""
        self._entries.pop(key, None)
        self._failures.pop(key, None)

    @property
    def total_mints(self) -> int:
        return sum(self.mints.values())

    def __len__(self) -> int:
        return len(self._entries)
