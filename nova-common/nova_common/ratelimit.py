"""A true sliding-window counter in Redis, atomic across every process that shares the Redis.

One sorted set per limited thing, one member per admitted request scored by its time. The Lua script drops
members older than the window, counts, and admits (adds a member) only when under the limit — all in one
step, so two processes can never both take the last slot, and a refused request adds nothing (a client
hammering a full window does not extend its own ban). Time comes from Redis (`TIME`), not from each
process's clock, so processes with skewed clocks still agree on the window.
"""

import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

# KEYS[1] zset; ARGV: limit, window (ms), member suffix.
# Returns {admitted (0/1), count after the call, ms until the oldest entry leaves the window}.
_ADMIT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 60000)
  return {1, count + 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
return {0, count, wait}
"""

# Read-only: how many requests the window holds now (for reports and for skipping exhausted providers).
_PEEK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
"""


@dataclass(frozen=True)
class Admission:
    admitted: bool
    count: int
    retry_after_seconds: int


class SlidingWindowLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._admit = redis.register_script(_ADMIT)
        self._peek = redis.register_script(_PEEK)

    async def admit(self, key: str, *, limit: int, window_seconds: int) -> Admission:
        admitted, count, wait_ms = await self._admit(
            keys=[key], args=[limit, window_seconds * 1000, secrets.token_hex(6)]
        )
        return Admission(bool(admitted), int(count), max(1, -(-int(wait_ms) // 1000)) if not admitted else 0)

    async def used(self, key: str, *, window_seconds: int) -> int:
        return int(await self._peek(keys=[key], args=[window_seconds * 1000]))
