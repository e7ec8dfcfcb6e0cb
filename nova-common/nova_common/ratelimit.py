"""A true sliding-window counter in Redis, atomic across every process that shares the Redis.

One sorted set per limited thing, one member per admitted request scored by its time. The Lua script drops
members older than the window, counts, and admits (adds a member) only when under the limit — all in one
step, so two processes can never both take the last slot, and a refused request adds nothing (a client
hammering a full window does not extend its own ban). Time comes from Redis (`TIME`), not from each
process's clock, so processes with skewed clocks still agree on the window.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

# KEYS[1] zset; ARGV: limit, window (ms), member suffix, cost (how many requests this call counts as).
# Returns {admitted (0/1), count after the call, ms until enough of the oldest entries leave the window}.
_ADMIT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[4] or '1')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count + cost <= limit then
  for i = 1, cost do
    redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3] .. '-' .. i)
  end
  redis.call('PEXPIRE', KEYS[1], window + 60000)
  return {1, count + cost, 0}
end
local freed = redis.call('ZRANGE', KEYS[1], count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
local wait = window
if freed[2] then wait = tonumber(freed[2]) + window - now end
return {0, count, wait}
"""

# Several windows in one step (KEYS[i] with ARGV[2i-1] limit, ARGV[2i] window ms; the last ARGV: member
# suffix): every window is checked before any is counted, so a request is counted in all of them or in none
# (a key's slot is never spent on a request a provider quota refuses, nor the other way round).
# Returns {admitted (0/1), 1-based index of the first full window (0 if none), ms until it frees a slot}.
_ADMIT_ALL = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
for i = 1, n do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local wait = window
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    return {0, i, wait}
  end
end
local member = now .. '-' .. ARGV[2 * n + 1]
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 * i]) + 60000)
end
return {1, 0, 0}
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


@dataclass(frozen=True)
class Window:
    """One sliding window to count a request in: its Redis key, its limit and its length."""

    key: str
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class JointAdmission:
    admitted: bool
    # The first window that was full (the request was counted nowhere), None when admitted.
    refused_by: Window | None
    retry_after_seconds: int


class SlidingWindowLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._admit = redis.register_script(_ADMIT)
        self._peek = redis.register_script(_PEEK)
        self._admit_all = redis.register_script(_ADMIT_ALL)

    async def admit(self, key: str, *, limit: int, window_seconds: int, cost: int = 1) -> Admission:
        """Count `cost` requests (a batch of that many) at once, or none when they do not all fit."""
        admitted, count, wait_ms = await self._admit(
            keys=[key], args=[limit, window_seconds * 1000, secrets.token_hex(6), cost]
        )
        return Admission(bool(admitted), int(count), max(1, -(-int(wait_ms) // 1000)) if not admitted else 0)

    async def admit_all(self, windows: Sequence[Window]) -> JointAdmission:
        """Count one request in every window, or in none when one of them is full: one round trip."""
        args: list[int | str] = []
        for window in windows:
            args += [window.limit, window.window_seconds * 1000]
        admitted, index, wait_ms = await self._admit_all(
            keys=[window.key for window in windows], args=[*args, secrets.token_hex(6)]
        )
        if admitted:
            return JointAdmission(True, None, 0)
        return JointAdmission(False, windows[int(index) - 1], max(1, -(-int(wait_ms) // 1000)))

    async def used(self, key: str, *, window_seconds: int) -> int:
        return int(await self._peek(keys=[key], args=[window_seconds * 1000]))
