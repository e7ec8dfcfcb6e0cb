"""Background loops owned by the lifespan: each iteration may fail without ending the loop."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine

import structlog

log = structlog.get_logger("nova.loops")


class BackgroundLoops:
    """Starts named loops and stops them all on shutdown."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def every(self, name: str, interval: float, iteration: Callable[[], Awaitable[object]]) -> None:
        """Run `iteration` every `interval` seconds."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                await self._guarded(name, iteration)

        self._start(name, loop())

    def forever(self, name: str, iteration: Callable[[], Awaitable[object]], *, backoff: float = 1.0) -> None:
        """Run `iteration` back to back (it blocks on its own input); back off after a failure."""

        async def loop() -> None:
            while True:
                if not await self._guarded(name, iteration):
                    await asyncio.sleep(backoff)

        self._start(name, loop())

    def once(self, name: str, job: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await job
            except Exception:
                log.exception("background_job_failed", job=name)

        self._start(name, run())

    def _start(self, name: str, coro: Coroutine[object, object, None]) -> None:
        self._tasks[name] = asyncio.create_task(coro, name=name)

    @staticmethod
    async def _guarded(name: str, iteration: Callable[[], Awaitable[object]]) -> bool:
        # A client library may turn our cancellation into its own error (redis-py does while blocked in a
        # read), or absorb it and return as if its wait had run out (seen with `BLMOVE`; a known class of
        # redis-py bug for blocking commands, redis/redis-py#2028): either way a loop asked to stop ends
        # here, or shutdown would wait for it forever and it would go on taking work.
        task = asyncio.current_task()
        try:
            await iteration()
        except asyncio.CancelledError:
            raise
        except Exception:
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from None
            log.exception("loop_iteration_failed", loop=name)
            return False
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        return True

    async def stop(self, grace: float = 10.0) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks.values(), timeout=grace)
            for task in stuck:
                log.error("loop_did_not_stop", loop=task.get_name())
        self._tasks.clear()
