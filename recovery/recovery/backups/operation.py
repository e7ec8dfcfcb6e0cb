"""One backup, restore or reset at a time (a lock in Redis DB 7), and the maintenance flag a restore raises.

Both keys expire unless the running operation keeps renewing them, so a recovery process killed mid-way
leaves neither behind for long (its successor also clears them when it resumes an unfinished restore).
"""

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import redis.asyncio as aioredis

from nova_common.errors import Conflict
from nova_common.maintenance import MAINTENANCE_KEY, stale_readers

LOCK_KEY = "nova:recovery:operation"
# MAINTENANCE_KEY is published in DB 7 (recovery's) and DB 1 (shared config, where the services' writers read
# it through `nova_common.maintenance`).
LEASE_MS = 60_000
_RENEW_SECONDS = 15.0
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


class Operations:
    def __init__(
        self, recovery_redis: aioredis.Redis, config_redis: aioredis.Redis, *, settle_seconds: float = 1.5
    ) -> None:
        self.redis = recovery_redis
        self.config_redis = config_redis
        # The writers read the flag through a cache of up to a second (nova_common.maintenance): the
        # operation starts once none of them can still be acting on an earlier answer, or after this long.
        self.settle_seconds = settle_seconds

    async def running(self) -> dict[str, str] | None:
        raw = await self.redis.get(LOCK_KEY)
        if raw is None:
            return None
        value: dict[str, str] = json.loads(raw)
        value.pop("token", None)
        return value

    @asynccontextmanager
    async def exclusive(self, operation: str, *, force: bool = False) -> AsyncIterator[None]:
        """Hold the lock for `operation`; 409 if another one runs. `force` takes it over (startup resume)."""
        token = secrets.token_hex(16)
        value = json.dumps(
            {"token": token, "operation": operation, "started_at": datetime.now(UTC).isoformat()}
        )
        taken = await self.redis.set(LOCK_KEY, value, px=LEASE_MS, nx=not force)
        if not taken:
            current = await self.running() or {}
            raise Conflict(
                f"a {current.get('operation', 'recovery operation')} is already running "
                f"(since {current.get('started_at', '?')}); try again when it has finished"
            )
        stored = value

        async def renew() -> None:
            while True:
                await asyncio.sleep(_RENEW_SECONDS)
                await self.redis.eval(_RENEW, 1, LOCK_KEY, stored, LEASE_MS)
                if await self.redis.exists(MAINTENANCE_KEY):
                    await self.redis.pexpire(MAINTENANCE_KEY, LEASE_MS)
                    await self.config_redis.pexpire(MAINTENANCE_KEY, LEASE_MS)

        renewer = asyncio.create_task(renew(), name=f"recovery-lock-{operation}")
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            await self.redis.eval(_RELEASE, 1, LOCK_KEY, stored)

    @asynccontextmanager
    async def maintenance(self, operation: str) -> AsyncIterator[None]:
        """Tell the services that write to pause while `operation` replaces their data."""
        flag = json.dumps({"operation": operation, "started_at": datetime.now(UTC).isoformat()})
        await self.redis.set(MAINTENANCE_KEY, flag, px=LEASE_MS)
        await self.config_redis.set(MAINTENANCE_KEY, flag, px=LEASE_MS)
        try:
            await self._settle(flag)
            yield
        finally:
            await self.redis.delete(MAINTENANCE_KEY)
            await self.config_redis.delete(MAINTENANCE_KEY)

    async def _settle(self, flag: str) -> None:
        """Wait until no writer can still act on a "clear" it read before `flag` went up (each has seen the
        flag, or its cached answer has run out), at most `settle_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_seconds
        while loop.time() < deadline:
            if not await stale_readers(self.config_redis, flag):
                return
            await asyncio.sleep(0.05)
