"""Is the stack in maintenance? recovery raises `nova:system:maintenance` in the shared config DB (1) while a
restore replaces the data, and the services that write on their own (pipeline workers, the reaper, cortex,
the feed and crawl workers, memory ingestion and consolidation) hold back until it goes.

The flag expires by itself unless recovery keeps renewing it, so a recovery killed mid-restore pauses the
stack for a minute at most. Reads are cached for a second: a loop may ask before every item.

Each read also tells recovery how long this reader may go on trusting what it read (`nova:system:maintenance:
readers`, in Redis's own clock) and, once it has seen the flag, that it has (`…:seen`). recovery starts the
operation as soon as no reader can still be acting on an earlier "clear" answer (`stale_readers`), instead of
waiting a fixed time for caches it cannot see.
"""

import asyncio
import itertools
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Final

import redis.asyncio as aioredis
import structlog

from nova_common.redis import create_redis

log = structlog.get_logger("nova.maintenance")

MAINTENANCE_KEY: Final = "nova:system:maintenance"
# reader id -> Redis time (ms) until which its cached answer holds; reader id -> the flag value it has seen.
READERS_KEY: Final = "nova:system:maintenance:readers"
SEEN_KEY: Final = "nova:system:maintenance:seen"
_reader_numbers = itertools.count(1)

# One round trip: read the flag, say until when this answer may be trusted, and that the flag was seen.
_READ = """
local flag = redis.call('get', KEYS[1])
local now = redis.call('time')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('hset', KEYS[2], ARGV[1], now_ms + tonumber(ARGV[2]))
if flag then redis.call('hset', KEYS[3], ARGV[1], flag) end
return flag
"""
# The readers that may still act on a "clear" read from before the flag `ARGV[1]` was raised: their cache has
# not run out and they have not seen the flag since. Readers whose cache ran out are forgotten.
_STALE = """
local now = redis.call('time')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local readers = redis.call('hgetall', KEYS[1])
local stale = {}
for i = 1, #readers, 2 do
  local reader, until_ms = readers[i], tonumber(readers[i + 1])
  if until_ms <= now_ms then
    redis.call('hdel', KEYS[1], reader)
    redis.call('hdel', KEYS[2], reader)
  elseif redis.call('hget', KEYS[2], reader) ~= ARGV[1] then
    table.insert(stale, reader)
  end
end
return stale
"""


async def stale_readers(config_redis: aioredis.Redis, flag: str) -> list[str]:
    """The services' readers that may still be acting on a "clear" answer while `flag` (the raised flag's
    value) is up: an operation that replaces data waits until there are none."""
    stale = await config_redis.register_script(_STALE)(keys=[READERS_KEY, SEEN_KEY], args=[flag])
    return [r.decode() if isinstance(r, bytes) else str(r) for r in stale]


class MaintenanceFlag:
    """The maintenance flag as one service sees it: `active()` is cheap, `wait_until_clear()` holds a loop."""

    def __init__(
        self,
        config_redis: aioredis.Redis,
        *,
        cache_seconds: float = 1.0,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = config_redis
        self.cache_seconds = cache_seconds
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._active = False
        self._read_at: float | None = None
        self._owns_client = False
        # How many times a caller was held back: tests wait on it to know a loop looked and declined.
        self.held = 0
        self.reader_id = f"{socket.gethostname()}:{os.getpid()}:{next(_reader_numbers)}"
        self._read = config_redis.register_script(_READ)

    @classmethod
    def for_stack(
        cls, redis_url: str, *, cache_seconds: float = 1.0, poll_seconds: float = 1.0
    ) -> "MaintenanceFlag":
        """A flag reading the shared config DB of the Redis server at `redis_url` (its own client)."""
        flag = cls(
            create_redis("llm-gateway", redis_url), cache_seconds=cache_seconds, poll_seconds=poll_seconds
        )
        flag._owns_client = True
        return flag

    async def aclose(self) -> None:
        if self._owns_client:
            await self.redis.aclose()

    async def active(self) -> bool:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self.cache_seconds:
            return self._active
        try:
            cache_ms = max(1, int(self.cache_seconds * 1000))
            read = self._read(keys=[MAINTENANCE_KEY, READERS_KEY, SEEN_KEY], args=[self.reader_id, cache_ms])
            active = await read is not None
        except Exception as exc:
            # Redis away: keep the last answer; the caller's own Redis work fails and is retried anyway.
            log.warning("maintenance_flag_unreadable", error=type(exc).__name__)
            return self._active
        if active != self._active:
            log.info("maintenance_started" if active else "maintenance_ended")
        self._active, self._read_at = active, now
        return active

    async def holding(self) -> bool:
        """`active()` for a loop that skips its iteration while in maintenance (counted in `held`)."""
        if await self.active():
            self.held += 1
            return True
        return False

    async def wait_until_clear(self) -> None:
        """Return at once outside maintenance; otherwise when the flag has gone."""
        while await self.active():
            self.held += 1
            await asyncio.sleep(self.poll_seconds)

    def skipping(self, iteration: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        """`iteration` skipped (and counted in `held`) while in maintenance: for `BackgroundLoops.every`."""

        async def unless_in_maintenance() -> object:
            if await self.holding():
                return None
            return await iteration()

        return unless_in_maintenance
