"""Per-caller limit on synthesis, on the kit's sliding window (`nova_common.ratelimit`) in Redis DB 9.

This is a second window beside the key's own `rate_limit_rpm` (one window for the whole stack, counted in
DB 1 by `nova_common.credentials.KeyRateLimiter` when the key is checked): speech costs provider money per
character, so synthesis gets a tighter budget of its own, `nova:voice:tts:<owner>`.
"""

import redis.asyncio as aioredis

from nova_common.auth import Principal
from nova_common.errors import RateLimited
from nova_common.ratelimit import SlidingWindowLimiter

WINDOW_SECONDS = 60


def caller_owner(principal: Principal) -> str | None:
    """The caller as the platform names owners (`key:<id>`, `local`); None for the admin and Nova's own
    services (chat-bridge answers only the chats its owner allowed), which are not limited."""
    if principal.kind == "api_key" and principal.key is not None:
        return f"key:{principal.key.id}"
    if principal.kind in ("admin", "service"):
        return None
    return "local"


def synthesis_window(owner: str) -> str:
    return f"nova:voice:tts:{owner}"


class SynthesisLimiter:
    def __init__(self, redis: aioredis.Redis, *, per_minute: int) -> None:
        self.per_minute = per_minute
        self.window = SlidingWindowLimiter(redis)

    async def admit(self, principal: Principal) -> None:
        owner = caller_owner(principal)
        if owner is None:
            return
        admission = await self.window.admit(
            synthesis_window(owner), limit=self.per_minute, window_seconds=WINDOW_SECONDS
        )
        if not admission.admitted:
            raise RateLimited(
                f"synthesis limit reached: {self.per_minute} requests per minute per caller "
                "(VOICE_TTS_REQUESTS_PER_MINUTE)",
                retry_after=admission.retry_after_seconds,
            )
