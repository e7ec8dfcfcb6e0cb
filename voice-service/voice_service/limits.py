"""Per-caller limit on synthesis: a sliding window in Redis DB 9, atomic across voice-service processes.

One sorted set per caller, one member per admitted request scored by Redis's own clock; the script drops
members older than the window, counts and admits in one step, so two processes never both take the last slot.
"""

import secrets

import redis.asyncio as aioredis

from nova_common.auth import Principal
from nova_common.errors import RateLimited

WINDOW_SECONDS = 60
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, now .. '-' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""


def caller_owner(principal: Principal) -> str | None:
    """The caller as the platform names owners (`key:<id>`, `local`); None for the admin (not limited)."""
    if principal.kind == "api_key" and principal.key is not None:
        return f"key:{principal.key.id}"
    if principal.kind in ("admin", "service"):
        return None
    return "local"


class SynthesisLimiter:
    def __init__(self, redis: aioredis.Redis, *, per_minute: int) -> None:
        self.per_minute = per_minute
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, principal: Principal) -> None:
        owner = caller_owner(principal)
        if owner is None:
            return
        wait_ms = int(
            await self._admit(
                keys=[f"nova:voice:tts:{owner}"],
                args=[self.per_minute, WINDOW_SECONDS * 1000, secrets.token_hex(6)],
            )
        )
        if wait_ms > 0:
            raise RateLimited(
                f"synthesis limit reached: {self.per_minute} requests per minute per caller "
                "(VOICE_TTS_REQUESTS_PER_MINUTE)",
                retry_after=-(-wait_ms // 1000),
            )
