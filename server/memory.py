"""Garbage-collector settings for a long-running server process.

The process keeps a large, long-lived heap (SQLAlchemy's mappings, Bolt, slack_sdk
models, httpx); a full collection walks all of it and pauses every request and
connection test in flight. Measured in bench/ack.py: most of the p99 under load.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 20_000  # allocations between young collections (default 700)


def tune_for_serving() -> None:
    """Call once start-up is done: what it loaded stays for the process's life."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 20)
