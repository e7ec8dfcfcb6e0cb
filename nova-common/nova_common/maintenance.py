"""Is the stack in maintenance? recovery raises `nova:system:maintenance` in the shared config DB (1) while a
restore replaces the data, and the services that write on their own (pipeline workers, the reaper, cortex,
the feed and crawl workers, memory ingestion and consolidation) hold back until it goes.

The flag expires by itself unless recovery keeps renewing it, so a recovery killed mid-restore pauses the
stack for a minute at most. Reads are cached for a second: a loop may ask before every item.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

import redis.asyncio as aioredis
import structlog

from nova_common.redis import create_redis

log = structlog.get_logger("nova.maintenance")

MAINTENANCE_KEY: Final = "nova:system:maintenance"


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
            active = bool(await self.redis.exists(MAINTENANCE_KEY))
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
