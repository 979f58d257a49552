"""Look-up in the bounded, expiring caches of tokens (auth.TokenCache) and minted
credentials (minting.MintCache): both keep `(value, deadline)` in LRU order."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D", float, datetime)


def fresh(entries: OrderedDict[K, tuple[V, D]], key: K, now: D) -> V | None:
    """The value under `key` while `now` is before its deadline, marked most recently used;
    None when there is none, and an expired one is dropped so it cannot be served later."""
    entry = entries.get(key)
    if entry is None:
        return None
    value, deadline = entry
    if now >= deadline:
        del entries[key]
        return None
    entries.move_to_end(key)
    return value
