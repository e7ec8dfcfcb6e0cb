"""Usage records appended to the Redis stream `nova:usage:events`, which the orchestrator consumes.

Records are queued in memory and written by one background task with a pipeline, so the request path
never waits on Redis for them. The stream is capped (`MAXLEN ~`), so it holds records while the orchestrator
is down without growing without bound.
"""

import asyncio
import contextlib

import redis.asyncio as aioredis
import structlog

from nova_contracts.llm import UsageRecord

log = structlog.get_logger("llm_gateway.usage")

# Records kept in memory while Redis is unreachable; beyond this the oldest are dropped (and logged).
MAX_PENDING = 10_000
FLUSH_BATCH = 500
# After the first record arrives, wait this long for more so one pipeline carries many records.
BATCH_WINDOW_SECONDS = 0.05


class UsageRecorder:
    def __init__(self, redis: aioredis.Redis, stream: str, maxlen: int) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        # `None` is the stop sentinel (see `stop`).
        self._queue: asyncio.Queue[UsageRecord | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(self, record: UsageRecord) -> None:
        if self._queue.qsize() >= MAX_PENDING:
            self._queue.get_nowait()
            self.dropped += 1
            log.warning("usage_record_dropped", dropped=self.dropped)
        self._queue.put_nowait(record)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def stop(self) -> None:
        # A sentinel rather than only `cancel()`: a cancellation that lands inside the Redis client while a
        # flush is in flight can be swallowed there, leaving the task waiting on the queue forever.
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except TimeoutError:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 1.0)
        # Whatever is still queued is written once more before the process exits.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._flush(self._drain()), 2.0)

    def _drain(self) -> list[UsageRecord]:
        batch: list[UsageRecord] = []
        while not self._queue.empty() and len(batch) < FLUSH_BATCH:
            record = self._queue.get_nowait()
            if record is not None:
                batch.append(record)
        return batch

    async def _flush(self, batch: list[UsageRecord]) -> None:
        if not batch:
            return
        pipe = self.redis.pipeline(transaction=False)
        for record in batch:
            pipe.xadd(
                self.stream,
                {"record": record.model_dump_json()},
                maxlen=self.maxlen,
                approximate=True,
            )
        await pipe.execute()

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            await asyncio.sleep(BATCH_WINDOW_SECONDS)
            batch = [first, *self._drain()]
            try:
                await self._flush(batch)
            except Exception as exc:
                # Put the batch back and retry later: a Redis blip must not lose records.
                log.warning("usage_flush_failed", error=type(exc).__name__, pending=len(batch))
                for record in batch:
                    self.record(record)
                await asyncio.sleep(1.0)
