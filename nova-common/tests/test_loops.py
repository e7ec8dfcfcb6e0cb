"""Background loops outlive a failed iteration and stop on shutdown, even when a library swallows the cancel."""

import asyncio

from nova_common.loops import BackgroundLoops


async def test_a_loop_keeps_running_after_an_iteration_fails() -> None:
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("first iteration fails")

    loops = BackgroundLoops()
    loops.every("flaky", 0.01, flaky)
    while len(calls) < 3:
        await asyncio.sleep(0.01)
    await loops.stop()
    assert len(calls) >= 3


async def test_stop_ends_a_loop_whose_client_turns_cancellation_into_its_own_error() -> None:
    async def blocking_read() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("connection closed while reading") from None

    loops = BackgroundLoops()
    loops.forever("reader", blocking_read, backoff=0.01)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(loops.stop(), 5)
