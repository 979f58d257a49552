"""Work after an ack waits its turn, so a burst of requests does not delay the acks
behind it (bench/ack.py measures the effect); it never waits long. Waits are checked by
what happened (admitted or not), never by an upper bound on wall-clock time."""

from __future__ import annotations

import asyncio
import time

from handlers.gate import ACKS_IN_FLIGHT, AfterAckGate

# Longer than any wait the gate makes here, however loaded the machine: a test fails on
# it only when the gate never lets the work in. (Only lower bounds are measured: time
# cannot pass faster on a loaded machine, but it can pass slower.)
NEVER = 10.0


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
    # Admitted at all proves the slot came back (nothing else gives it); the bound on
    # the wait is generous, so a loaded machine does not fail it.
    leave = await asyncio.wait_for(gate.enter(), timeout=NEVER)
    assert time.monotonic() - started >= 0.05  # but not before the hold had passed
    leave()


async def test_leaving_twice_gives_back_one_slot_only() -> None:
    gate = AfterAckGate(slots=1, hold=NEVER * 2)
    leave = await gate.enter()
    leave()
    leave()
    holder = await asyncio.wait_for(gate.enter(), timeout=NEVER)
    waiting = asyncio.ensure_future(gate.enter())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # one slot, taken: the second leave() gave back nothing
    holder()
    (await asyncio.wait_for(waiting, timeout=NEVER))()


async def test_work_waits_for_pending_acks_and_starts_when_they_went_out() -> None:
    gate = AfterAckGate(slots=1, hold=NEVER * 2)  # only the ack can release it in time
    ACKS_IN_FLIGHT.begin()
    try:
        waiting = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # an ack is still on its way: work waits
        ACKS_IN_FLIGHT.end()
        leave = await asyncio.wait_for(waiting, timeout=NEVER)  # released by the ack
        leave()
    finally:
        ACKS_IN_FLIGHT.end()


async def test_work_waits_for_pending_acks_but_not_forever() -> None:
    gate = AfterAckGate(slots=1, hold=0.2)
    ACKS_IN_FLIGHT.begin()
    try:
        started = time.monotonic()
        leave = await asyncio.wait_for(gate.enter(), timeout=NEVER)  # the ack never goes out
        assert time.monotonic() - started >= 0.15  # it did wait for the ack, up to hold
        leave()
    finally:
        ACKS_IN_FLIGHT.end()
