"""The after-ack gate: listeners' work after their ack waits for a slot, and for the
acks in flight (counted by the ASGI router) to be sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class AcksInFlight:
    """How many Slack requests are waiting for their answer (the ack) right now.

    Work done after an ack shares the event loop with the acks of later requests;
    `wait_until_idle` lets that work start when no ack is waiting (within a bound,
    so it is never starved), which keeps acks fast under a burst.
    """

    def __init__(self) -> None:
        self.count = 0
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _event(self) -> asyncio.Event:
        """The event of the running loop (tests run several loops in one process)."""
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:
            self._idle, self._loop = asyncio.Event(), loop
            if self.count <= 0:
                self._idle.set()
        return self._idle

    def begin(self) -> None:
        self.count += 1
        self._event().clear()

    def end(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.count = 0
            self._event().set()

    async def wait_until_idle(self, at_most: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event().wait(), at_most)


ACKS_IN_FLIGHT = AcksInFlight()


class AfterAckGate:
    """Admits a few listeners at a time to the work they do after acking.

    Listeners share one event loop with the request path that acks Slack. Unbounded,
    a burst of requests each starting milliseconds of CPU work after its ack (SQL,
    Block Kit, Web API calls) delays the acks of the requests behind it; measured with
    50 concurrent clients in bench/ack.py. A slot is held while that work runs, but
    for `hold` seconds at most: work waiting on a slow registry gives its slot back
    early, so it never keeps anyone else waiting long.
    """

    def __init__(self, slots: int = 1, hold: float = 0.25) -> None:
        self.slots = slots
        self.hold = hold
        self._semaphore: asyncio.Semaphore | None = None

    async def enter(self) -> Callable[[], None]:
        """Wait for a slot, and for the acks in flight to be sent (`hold` seconds at
        most); returns the function that gives the slot back (idempotent)."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        semaphore = self._semaphore
        await semaphore.acquire()
        await ACKS_IN_FLIGHT.wait_until_idle(self.hold)
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                semaphore.release()

        timer = asyncio.get_running_loop().call_later(self.hold, give_back)

        def leave() -> None:
            timer.cancel()
            give_back()

        return leave


AFTER_ACK = AfterAckGate()
