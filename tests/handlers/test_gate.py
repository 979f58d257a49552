"""Work after an ack waits its turn, so a burst of requests does not delay the acks
behind it (bench/ack.py measures the effect); it never waits long."""

from __future__ import annotations

import asyncio
import time

from handlers.gate import ACKS_IN_FLIGHT, AfterAckGate


async def test_a_second_listener_starts_its_work_when_the_first_is_done() -> None:
    gate = AfterAckGate(slots=1, hold=5.0)
    order: list[str] = []

    async def work(name: str, seconds: float) -> None:
        leave = await gate.enter()
        order.append(f"{name} starts")
        await asyncio.sleep(seconds)
        order.append(f"{name} ends")
        leave()

    await asyncio.gather(work("first", 0.05), work("second", 0.0))
    assert order == ["first starts", "first ends", "second starts", "second ends"]


async def test_work_waiting_on_a_slow_registry_gives_its_slot_back() -> None:
    gate = AfterAckGate(slots=1, hold=0.1)
    await gate.enter()  # never left: a listener stuck on a slow connection test
    started = time.monotonic()
    leave = await asyncio.wait_for(gate.enter(), timeout=2)
    assert 0.05 <= time.monotonic() - started < 1.0
    leave()
    leave()  # leaving twice gives back one slot only


async def test_work_waits_for_pending_acks_but_not_forever() -> None:
    gate = AfterAckGate(slots=1, hold=0.2)
    ACKS_IN_FLIGHT.begin()
    try:
        started = time.monotonic()
        waiting = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # an ack is still on its way: work waits
        ACKS_IN_FLIGHT.end()
        leave = await asyncio.wait_for(waiting, timeout=1)
        assert time.monotonic() - started < 0.2  # released as soon as the ack went out
        leave()
        ACKS_IN_FLIGHT.begin()
        started = time.monotonic()
        leave = await asyncio.wait_for(gate.enter(), timeout=2)  # the ack never goes out
        assert 0.15 <= time.monotonic() - started < 1.0
        leave()
    finally:
        ACKS_IN_FLIGHT.end()
