"""Per-key requests-per-minute as a true sliding window, shared by every orchestrator process through Redis.

Each admitted request adds one member to a sorted set scored by the Redis server's clock (so processes
with skewed clocks agree); members older than the window are dropped first. A refused request adds
nothing, so a client hammering a full window does not extend its own ban. Check-and-add is one Lua script,
hence atomic across processes.
"""

import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

WINDOW_MS = 60_000

_SLIDING_WINDOW = """
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, now .. '-' .. ARGV[3])
  redis.call('PEXPIRE', key, window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then retry = tonumber(oldest[2]) + window - now end
return {0, 0, retry}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_ms: int

    @property
    def retry_after_seconds(self) -> int:
        return max(1, -(-self.retry_after_ms // 1000))


class SlidingWindowLimiter:
    def __init__(self, redis: aioredis.Redis, *, prefix: str = "nova:ratelimit:key:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_SLIDING_WINDOW)

    async def hit(self, subject: str, limit: int, window_ms: int = WINDOW_MS) -> RateDecision:
        allowed, remaining, retry = await self._script(
            keys=[self.prefix + subject], args=[limit, window_ms, secrets.token_hex(6)]
        )
        return RateDecision(bool(int(allowed)), int(remaining), int(retry))
