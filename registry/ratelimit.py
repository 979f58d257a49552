"""Turn a 429 answer into a message that says when to try again.

Docker Hub's registry sends `ratelimit-limit: 100;w=21600` and
`ratelimit-remaining: 0;w=21600`; its Hub API sends `X-RateLimit-Reset` (a
Unix time) and `Retry-After` (seconds).  Other servers send `Retry-After` as
seconds or an HTTP date.  We report the earliest reset time we can find, in UTC.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from registry.errors import ErrorKind, RegistryError

_WINDOW_RE = re.compile(r"^\s*(\d{1,12})\s*;\s*w\s*=\s*(\d{1,12})")
# A server may say anything (`Retry-After: 1e300`, `inf`, a date in year 9999);
# what we report is clamped to a year from now, so no answer can overflow a date.
MAX_WAIT = 366 * 24 * 3600.0


def _number(value: str | None) -> float | None:
    if value is None or len(value) > 40:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def reset_time(headers: httpx.Headers, now: float) -> float | None:
    """The Unix time at which the limit resets, if the headers say (at most a year ahead)."""
    reset = _reset_time(headers, now)
    if reset is None:
        return None
    return min(max(reset, now), now + MAX_WAIT)


def _reset_time(headers: httpx.Headers, now: float) -> float | None:
    epoch = _number(headers.get("x-ratelimit-reset"))
    if epoch is not None and epoch > 1_000_000_000:
        return epoch
    retry_after = headers.get("retry-after")
    seconds = _number(retry_after)
    if seconds is not None:
        return now + seconds
    if retry_after:
        try:
            return parsedate_to_datetime(retry_after[:100]).timestamp()
        except (TypeError, ValueError, OverflowError, IndexError):
            pass
    delta = _number(headers.get("ratelimit-reset"))
    if delta is not None:
        return delta if delta > 1_000_000_000 else now + delta
    return None


def _limit_phrase(headers: httpx.Headers) -> str:
    match = _WINDOW_RE.match(headers.get("ratelimit-limit", ""))
    if not match:
        return ""
    limit, window = int(match.group(1)), min(int(match.group(2)), int(MAX_WAIT))
    hours = window / 3600
    span = f"{hours:g} h" if hours >= 1 else f"{window // 60} min"
    return f" ({limit} pulls per {span})"


def _when(reset: float, now: float) -> str:
    stamp = datetime.fromtimestamp(reset, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    minutes = max(0, round((reset - now) / 60))
    if minutes < 1:
        return f"{stamp} (in under a minute)"
    if minutes < 120:
        return f"{stamp} (in {minutes} min)"
    return f"{stamp} (in {minutes / 60:.1f} h)"


def rate_limit_error(
    headers: httpx.Headers, who: str, clock: Callable[[], float] = time.time
) -> RegistryError:
    """A RATE_LIMITED error naming `who` and, when known, the reset time."""
    now = clock()
    reset = reset_time(headers, now)
    if reset is None:
        match = _WINDOW_RE.match(headers.get("ratelimit-limit", ""))
        if match:
            reset = now + min(int(match.group(2)), MAX_WAIT)
            return RegistryError(
                ErrorKind.RATE_LIMITED,
                f"Rate limited by {who}{_limit_phrase(headers)}; "
                f"the window resets by {_when(reset, now)}.",
            )
        return RegistryError(ErrorKind.RATE_LIMITED, f"Rate limited by {who}; try again later.")
    return RegistryError(
        ErrorKind.RATE_LIMITED,
        f"Rate limited by {who}{_limit_phrase(headers)}; the limit resets at {_when(reset, now)}.",
    )
