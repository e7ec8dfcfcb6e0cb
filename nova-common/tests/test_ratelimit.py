"""The kit's sliding window and the stack-wide per-key limiter, against a real Redis."""

import asyncio
import uuid

import redis.asyncio as aioredis

from nova_common.auth import ApiKeyRecord
from nova_common.credentials import KeyRateLimiter, key_window
from nova_common.errors import RateLimited
from nova_common.ratelimit import SlidingWindowLimiter, Window


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


async def test_joint_admission_refused_by_the_second_window_counts_nothing_in_the_first(
    redis_base_url: str,
) -> None:
    redis = aioredis.Redis.from_url(redis_base_url, decode_responses=True)
    limiter = SlidingWindowLimiter(redis)
    key = Window(f"test:key:{uuid.uuid4().hex}", limit=10, window_seconds=60)
    quota = Window(f"test:quota:{uuid.uuid4().hex}", limit=1, window_seconds=600)
    try:
        assert (await limiter.admit_all([key, quota])).admitted
        refused = await limiter.admit_all([key, quota])
        assert not refused.admitted and refused.refused_by == quota
        assert 1 <= refused.retry_after_seconds <= 600
        # The key's window holds only the admitted request: the quota's refusal did not spend its slot.
        assert await limiter.used(key.key, window_seconds=60) == 1
        assert await limiter.used(quota.key, window_seconds=600) == 1
    finally:
        await redis.aclose()


async def test_joint_admission_refused_by_the_first_window_counts_nothing_in_the_second(
    redis_base_url: str,
) -> None:
    redis = aioredis.Redis.from_url(redis_base_url, decode_responses=True)
    limiter = SlidingWindowLimiter(redis)
    key = Window(f"test:key:{uuid.uuid4().hex}", limit=1, window_seconds=60)
    quota = Window(f"test:quota:{uuid.uuid4().hex}", limit=10, window_seconds=600)
    try:
        assert (await limiter.admit_all([key, quota])).admitted
        for _ in range(3):
            refused = await limiter.admit_all([key, quota])
            assert not refused.admitted and refused.refused_by == key
        assert await limiter.used(quota.key, window_seconds=600) == 1
        assert await limiter.used(key.key, window_seconds=60) == 1
    finally:
        await redis.aclose()


async def test_joint_admission_shares_the_window_that_single_admissions_count(redis_base_url: str) -> None:
    # The gateway counts a key jointly with a quota; the orchestrator counts the same key alone.
    redis = aioredis.Redis.from_url(redis_base_url, decode_responses=True)
    limiter, key_id = SlidingWindowLimiter(redis), str(uuid.uuid4())
    key = Window(key_window(key_id), limit=2, window_seconds=60)
    quota = Window(f"test:quota:{uuid.uuid4().hex}", limit=100, window_seconds=600)
    record = ApiKeyRecord(id=key_id, name="k", key_prefix="sk-nova-abc", rate_limit_rpm=2)
    try:
        await KeyRateLimiter(redis).admit(record)
        assert (await limiter.admit_all([key, quota])).admitted
        assert (await limiter.admit_all([key, quota])).refused_by == key
        try:
            await KeyRateLimiter(redis).admit(record)
        except RateLimited:
            pass
        else:
            raise AssertionError("the key's window was not shared")
    finally:
        await redis.aclose()
