"""The maintenance flag as services read it: raised and cleared in the shared config DB, read at most once
per cache period, holding a loop until it goes."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from nova_common.maintenance import MAINTENANCE_KEY, READERS_KEY, SEEN_KEY, MaintenanceFlag, stale_readers
from nova_common.redis import create_redis
from nova_common.testing import eventually_async


@pytest.fixture
async def config_db(redis_base_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_redis("llm-gateway", redis_base_url)
    yield client
    await client.aclose()


async def test_the_flag_recovery_raises_in_the_config_db_is_seen_and_its_removal_too(
    redis_base_url: str, config_db: aioredis.Redis
) -> None:
    flag = MaintenanceFlag.for_stack(redis_base_url, cache_seconds=0)
    try:
        assert await flag.active() is False
        await config_db.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
        assert await flag.active() is True
        await config_db.delete(MAINTENANCE_KEY)
        assert await flag.active() is False
    finally:
        await flag.aclose()


async def test_a_read_is_reused_within_the_cache_period_and_renewed_after_it(
    config_db: aioredis.Redis,
) -> None:
    now = [100.0]
    flag = MaintenanceFlag(config_db, cache_seconds=1.0, clock=lambda: now[0])
    assert await flag.active() is False
    await config_db.set(MAINTENANCE_KEY, "{}")
    now[0] += 0.5
    assert await flag.active() is False  # still the cached answer: one Redis read per second at most
    now[0] += 0.6
    assert await flag.active() is True


async def test_wait_until_clear_holds_a_loop_until_the_flag_goes(config_db: aioredis.Redis) -> None:
    flag = MaintenanceFlag(config_db, cache_seconds=0, poll_seconds=0.01)
    await flag.wait_until_clear()  # no flag: returns at once
    assert flag.held == 0
    await config_db.set(MAINTENANCE_KEY, "{}")
    waiter = asyncio.create_task(flag.wait_until_clear())
    await eventually_async(lambda: flag.held >= 3, within=10, what="the waiter held back")
    assert not waiter.done()
    await config_db.delete(MAINTENANCE_KEY)
    await asyncio.wait_for(waiter, timeout=10)


async def test_a_skipping_iteration_does_nothing_during_maintenance_and_runs_again_after(
    config_db: aioredis.Redis,
) -> None:
    flag = MaintenanceFlag(config_db, cache_seconds=0)
    runs: list[int] = []

    async def poll() -> None:
        runs.append(1)

    iteration = flag.skipping(poll)
    await iteration()
    await config_db.set(MAINTENANCE_KEY, "{}")
    await iteration()
    assert runs == [1] and flag.held == 1
    await config_db.delete(MAINTENANCE_KEY)
    await iteration()
    assert runs == [1, 1]


async def test_a_reader_is_stale_while_its_clear_answer_may_still_be_trusted_and_not_once_it_saw_the_flag(
    config_db: aioredis.Redis,
) -> None:
    """recovery starts a restore once no writer can still act on a "clear" read before the flag went up:
    a reader whose cached answer has run out is not waited for, one still trusting it is until it reads again."""
    await config_db.delete(READERS_KEY, SEEN_KEY)
    now = [100.0]
    trusting = MaintenanceFlag(config_db, cache_seconds=30, clock=lambda: now[0])
    brief = MaintenanceFlag(config_db, cache_seconds=0.001)
    assert await trusting.active() is False
    assert await brief.active() is False
    await asyncio.sleep(0.05)  # brief's answer (1 ms, in Redis's clock) has run out
    flag = '{"operation": "restore", "started_at": "2026-12-05T02:30:00+00:00"}'
    await config_db.set(MAINTENANCE_KEY, flag)
    assert await stale_readers(config_db, flag) == [trusting.reader_id]
    now[0] += 31  # its cache runs out: the next read goes to Redis and sees the flag
    assert await trusting.active() is True
    assert await stale_readers(config_db, flag) == []
    # A later operation's flag is another value: having seen the first one does not count for it.
    second = '{"operation": "factory reset", "started_at": "2026-12-05T02:31:00+00:00"}'
    await config_db.set(MAINTENANCE_KEY, second)
    assert await stale_readers(config_db, second) == [trusting.reader_id]
    await config_db.delete(MAINTENANCE_KEY)
