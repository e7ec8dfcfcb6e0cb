"""Usage records appended to the Redis stream `nova:usage:events`, which the orchestrator consumes.

A request only queues its record in memory. One background task writes what has queued, at most every
`BATCH_WINDOW_SECONDS`, as one Redis command per batch (a script that XADDs each record): neither the request
path nor the event loop pays a round trip, or redis-py's per-command cost, per record. A record leaves the
queue only once Redis has it: a failed write is retried, and `stop()` writes everything still queued before
the process exits. The stream is capped (`MAXLEN ~`), so it holds records while the orchestrator is down
without growing without bound.
"""

import asyncio
import contextlib
from collections import deque

import redis.asyncio as aioredis
import structlog

from nova_contracts.llm import UsageRecord

log = structlog.get_logger("llm_gateway.usage")

# Records kept in memory while Redis is unreachable; beyond this the oldest are dropped (and logged).
MAX_PENDING = 10_000
FLUSH_BATCH = 500
# After the first record arrives, wait this long for more so one command carries many records.
BATCH_WINDOW_SECONDS = 0.05
RETRY_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 5.0

# KEYS[1] stream; ARGV: the records' JSON, then MAXLEN. Returns how many were appended.
_APPEND = """
local maxlen = ARGV[#ARGV]
for i = 1, #ARGV - 1 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'record', ARGV[i])
end
return #ARGV - 1
"""


class UsageRecorder:
    def __init__(self, redis: aioredis.Redis, stream: str, maxlen: int) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self._append = redis.register_script(_APPEND)
        self._pending: deque[UsageRecord] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(self, record: UsageRecord) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            self.dropped += 1
            log.warning("usage_record_dropped", dropped=self.dropped)
        self._pending.append(record)
        self._wake.set()

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="usage-recorder")

    async def stop(self) -> None:
        """Write every queued record (retrying for up to STOP_TIMEOUT_SECONDS), then end the writer task."""
        self._closing = True
        self._wake.set()
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._pending:
            log.error("usage_records_unwritten", count=len(self._pending))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._closing:
                await asyncio.sleep(BATCH_WINDOW_SECONDS)
            self._wake.clear()
            try:
                await self._write_pending()
            except Exception as exc:
                # The records stay queued: a Redis blip must not lose them.
                log.warning("usage_flush_failed", error=type(exc).__name__, pending=len(self._pending))
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()
                continue
            if self._closing and not self._pending:
                return

    async def _write_pending(self) -> None:
        # Only what has queued so far: records arriving during these writes wait for the next window, or a
        # steady trickle would keep this loop writing one or two records per command.
        remaining = len(self._pending)
        while remaining > 0 and self._pending:
            size = min(FLUSH_BATCH, remaining, len(self._pending))
            batch = [self._pending.popleft() for _ in range(size)]
            remaining -= size
            try:
                await self._append(
                    keys=[self.stream], args=[*(record.model_dump_json() for record in batch), self.maxlen]
                )
            except BaseException:
                # Back at the front, in order (also when the task is cancelled mid-write).
                self._pending.extendleft(reversed(batch))
                raise
