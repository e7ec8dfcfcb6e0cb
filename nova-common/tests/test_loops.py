"""Background loops outlive a failed iteration and stop on shutdown, even when a library swallows the cancel.

Each test fails by an assertion within seconds when the behaviour breaks, never by hanging: conditions are
polled with a deadline and `stop()` is given a short grace, after which the loop's task must be done.
"""

import asyncio

from nova_common.loops import BackgroundLoops
from nova_common.testing import eventually_async


async def test_a_loop_keeps_running_after_an_iteration_fails() -> None:
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("first iteration fails")

    loops = BackgroundLoops()
    loops.every("flaky", 0.01, flaky)
    try:
        await eventually_async(lambda: len(calls) >= 3, within=5, what="three iterations after a failed one")
    finally:
        await loops.stop(grace=2)


async def test_stop_ends_a_loop_whose_client_turns_cancellation_into_its_own_error() -> None:
    reading = asyncio.Event()
    readers: list[asyncio.Task[object]] = []

    async def blocking_read() -> None:
        task = asyncio.current_task()
        assert task is not None
        readers.append(task)
        if len(readers) > 1:
            # Only a loop that survived stop() gets here: end it, so the assertion fails instead of a hang.
            raise asyncio.CancelledError
        reading.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("connection closed while reading") from None

    loops = BackgroundLoops()
    loops.forever("reader", blocking_read, backoff=0.01)
    await asyncio.wait_for(reading.wait(), 5)
    # stop() gives up after its grace and only logs a stuck loop; the assertion below is what fails then.
    await loops.stop(grace=2)
    assert readers and all(task.done() for task in readers), "the loop was still running after stop()"
    assert len(readers) == 1, "the loop ran another iteration instead of ending"


async def test_stop_ends_a_loop_whose_client_swallows_the_cancellation_and_returns() -> None:
    """Seen with memory-service's ingestion loops blocked in `BLMOVE`: the cancellation was absorbed below
    the call, which then returned like a wait that ran out, and the loop took the next item forever after."""
    reading = asyncio.Event()
    reads = 0

    async def blocking_read() -> bool:
        nonlocal reads
        reads += 1
        if reads > 1:
            raise asyncio.CancelledError  # only a loop that survived stop() gets here
        reading.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return False  # "nothing arrived in time"
        return True

    for run in ("forever", "every"):
        reads = 0
        reading.clear()
        loops = BackgroundLoops()
        if run == "forever":
            loops.forever("reader", blocking_read, backoff=0.01)
        else:
            loops.every("reader", 0.01, blocking_read)
        await asyncio.wait_for(reading.wait(), 5)
        await loops.stop(grace=2)
        assert reads == 1, f"the {run} loop ran another iteration instead of ending"
