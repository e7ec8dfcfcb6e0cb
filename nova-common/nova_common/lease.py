"""One holder cluster-wide: a Redis key with an expiry, owned by whoever set it.

A standing leader (cortex) calls `renew()` every cycle: it takes the lease when it is free and extends it
while it is its own; a replica that stops renewing loses it after `seconds`, and another takes over. A job
that must not run in two replicas at once (consolidation, compaction) runs inside `holding()`: the lease is
taken (waiting up to `wait_seconds`), renewed in the background while the job works, and released after.
Renewal and release only ever touch a lease this holder still owns.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
import structlog

log = structlog.get_logger("nova_common.lease")

# KEYS[1] the lease; ARGV: holder, ms. Extends the holder's own lease, or takes a free one.
_TAKE_OR_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    def __init__(self, redis: aioredis.Redis, key: str, seconds: float) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = int(seconds * 1000)
        self.holder = uuid.uuid4().hex
        self.held = False
        self._take_or_extend = redis.register_script(_TAKE_OR_EXTEND)
        self._release = redis.register_script(_RELEASE)

    async def renew(self) -> bool:
        """Take the lease if free, extend it if ours; whether we hold it now."""
        self.held = bool(await self._take_or_extend(keys=[self.key], args=[self.holder, self.ttl_ms]))
        return self.held

    async def release(self) -> None:
        if self.held:
            await self._release(keys=[self.key], args=[self.holder])
            self.held = False

    @asynccontextmanager
    async def holding(self, *, wait_seconds: float = 0.0) -> AsyncIterator[bool]:
        """True inside when this caller holds the lease (after waiting up to `wait_seconds` for it); each
        call is its own holder, so two runs in one process exclude each other too."""
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while not await self._take_or_extend(keys=[self.key], args=[token, self.ttl_ms]):
            if loop.time() >= deadline:
                yield False
                return
            await asyncio.sleep(0.5)
        renewal = asyncio.create_task(self._keep(token), name=f"lease:{self.key}")
        try:
            yield True
        finally:
            renewal.cancel()
            # Not `suppress(CancelledError)`: that would also swallow a cancellation of this task arriving
            # here, and a job's loop being stopped would run on (a lifespan shutdown hung on it). gather
            # returns the renewal's own cancellation and still raises ours.
            await asyncio.gather(renewal, return_exceptions=True)
            await self._release(keys=[self.key], args=[token])

    async def _keep(self, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                await self._take_or_extend(keys=[self.key], args=[token, self.ttl_ms])
            except aioredis.RedisError:
                log.warning("lease_renewal_failed", key=self.key, exc_info=True)
