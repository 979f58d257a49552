"""Sending the channel messages a use case just queued, from the listener that ran it."""

from __future__ import annotations

import logging
import os
import uuid

from bot import outbox
from bot.runtime import Runtime

log = logging.getLogger("handlers")

OUTBOX_OWNER = f"handlers-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def deliver_outbox(runtime: Runtime) -> None:
    """Send the channel messages a use case just queued.

    When the scheduler's outbox sender runs in this process it already woke up
    (the use case set `runtime.outbox_ready`): sending here too would race it.
    """
    if runtime.slack is None or runtime.outbox_sender_running:
        return
    try:
        for _ in range(5):  # a post, then the edits and replies waiting for its ts
            if not await outbox.deliver_pending(
                runtime.sessions, runtime.slack, owner=OUTBOX_OWNER
            ):
                break
    except Exception as error:  # the scheduler's outbox loop retries later
        log.warning("outbox delivery failed: %s", type(error).__name__)
