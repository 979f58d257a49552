"""Slack's request signature, checked on the raw bytes before Bolt sees a request.

Slack signs `v0:{X-Slack-Request-Timestamp}:{body}` with HMAC-SHA256 keyed with the
app's signing secret and sends `v0=<hex>` in `X-Slack-Signature`
(docs.slack.dev, "Verifying requests from Slack"). `slack_sdk`'s `SignatureVerifier`
does the same, but calls `int()` on the timestamp and decodes the body and compares
`str`s: `abc`, `1e9`, 5,000 digits, a non-UTF-8 body or a non-ASCII signature raise
instead of answering False, which Bolt turned into a 500 and a traceback. Here every
such input is simply not a valid signature.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import time
from collections.abc import Iterable

TIMESTAMP_HEADER = b"x-slack-request-timestamp"
SIGNATURE_HEADER = b"x-slack-signature"
MAX_AGE_SECONDS = 300  # Slack's advice: refuse requests older than five minutes (replays)

# Unix seconds: ten digits until the year 2286; twelve leave room and bound the work.
_TIMESTAMP = re.compile(rb"[0-9]{1,12}")
_SIGNATURE = re.compile(rb"v0=[0-9a-f]{64}")


class Verdict(enum.Enum):
    """Why a request was or was not accepted."""

    VALID = "valid"
    # No signature, two of them, or not in Slack's shape: a stranger, not a misconfiguration.
    MALFORMED = "malformed"
    STALE = "stale"
    # Well-formed and fresh, but keyed with another secret: most often SLACK_SIGNING_SECRET
    # is not the app's (another app's, or a stale one after "Regenerate").
    MISMATCH = "mismatch"


class SlackSignature:
    """Checks requests against one signing secret."""

    def __init__(self, signing_secret: str) -> None:
        self._secret = signing_secret.encode()

    def verify(
        self, headers: Iterable[tuple[bytes, bytes]], body: bytes, *, now: float | None = None
    ) -> bool:
        """True only for exactly one well-formed, fresh timestamp and a matching signature."""
        return self.check(headers, body, now=now) is Verdict.VALID

    def check(
        self, headers: Iterable[tuple[bytes, bytes]], body: bytes, *, now: float | None = None
    ) -> Verdict:
        """The verdict on one request.

        A header sent twice is refused: Bolt, which checks again, would read another copy.
        """
        pairs = list(headers)
        timestamps = [v for k, v in pairs if k.lower() == TIMESTAMP_HEADER]
        signatures = [v for k, v in pairs if k.lower() == SIGNATURE_HEADER]
        if len(timestamps) != 1 or len(signatures) != 1:
            return Verdict.MALFORMED
        timestamp, signature = timestamps[0], signatures[0]
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return Verdict.MALFORMED
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > MAX_AGE_SECONDS:
            return Verdict.STALE
        expected = hmac.new(self._secret, b"v0:" + timestamp + b":" + body, hashlib.sha256)
        if hmac.compare_digest(b"v0=" + expected.hexdigest().encode(), signature):
            return Verdict.VALID
        return Verdict.MISMATCH
