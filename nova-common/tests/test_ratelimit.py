"""The kit's sliding window and the stack-wide per-key limiter, against a real Redis."""

import asyncio
import uuid

import redis.asyncio as aioredis

from nova_common.auth import ApiKeyRecord
from nova_common.credentials import KeyRateLimiter, key_window
from nova_common.errors import RateLimited
from nova_common.ratelimit import SlidingWindowLimiter


async def test_limiter_is_a_sliding_window_not_a_fixed_bucket(redis_base_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_base_url, decode_responses=True)
    limiter, key = SlidingWindowLimiter(redis), f"test:window:{uuid.uuid4().hex}"
    try:
        assert (await limiter.admit(key, limit=2, window_seconds=3)).admitted  # t≈0
        await asyncio.sleep(2.0)  # the window's own time is what is under test here
        assert (await limiter.admit(key, limit=2, window_seconds=3)).admitted  # t≈2
        await asyncio.sleep(1.5)
        # t≈3.5: the first hit has left the window, so one more fits…
        assert (await limiter.admit(key, limit=2, window_seconds=3)).admitted
        # …but not two: a fixed 3 s bucket would have reset at t=3 and let this through.
        refused = await limiter.admit(key, limit=2, window_seconds=3)
        assert not refused.admitted
        assert 1 <= refused.retry_after_seconds <= 3
    finally:
        await redis.aclose()


async def test_refused_requests_do_not_extend_the_window(redis_base_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_base_url, decode_responses=True)
    limiter, key = SlidingWindowLimiter(redis), f"test:window:{uuid.uuid4().hex}"
    try:
        assert (await limiter.admit(key, limit=1, window_seconds=60)).admitted
        for _ in range(5):
            assert not (await limiter.admit(key, limit=1, window_seconds=60)).admitted
        assert await redis.zcard(key) == 1
        assert await limiter.used(key, window_seconds=60) == 1
    finally:
        await redis.aclose()


async def test_a_keys_limit_is_one_window_whichever_limiter_counts_it(redis_base_url: str) -> None:
    # Two services' limiters (two clients on one Redis) share the key's single window.
    clients = [aioredis.Redis.from_url(redis_base_url) for _ in range(2)]
    key = ApiKeyRecord(id=str(uuid.uuid4()), name="k", key_prefix="sk-nova-abc", rate_limit_rpm=3)
    first, second = (KeyRateLimiter(c) for c in clients)
    try:
        await first.admit(key)
        await second.admit(key)
        await first.admit(key)
        for limiter in (first, second):
            try:
                await limiter.admit(key)
            except RateLimited as refused:
                assert refused.retry_after >= 1
            else:
                raise AssertionError("a fourth request within the minute was admitted")
        assert await clients[0].zcard(key_window(key.id)) == 3
    finally:
        for client in clients:
            await client.aclose()
