"""One holder cluster-wide: a standing leader keeps its lease by renewing it, and a job run under `holding()`
excludes the same job in another replica until it finishes (or its holder dies and the lease expires)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from nova_common.lease import RedisLease


@pytest.fixture
async def client(redis_base_url: str) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_base_url, decode_responses=True)
    yield connection
    await connection.aclose()


async def test_one_replica_leads_and_the_other_takes_over_only_once_it_is_released(
    client: aioredis.Redis,
) -> None:
    first, second = RedisLease(client, "test:lease", 5), RedisLease(client, "test:lease", 5)
    assert await first.renew() is True
    assert await second.renew() is False
    assert await first.renew() is True  # extending its own
    await first.release()
    assert await second.renew() is True and second.held


async def test_a_job_under_the_lease_runs_in_one_replica_at_a_time(client: aioredis.Redis) -> None:
    replicas = [RedisLease(client, "test:job", 5), RedisLease(client, "test:job", 5)]
    running, most = 0, 0

    async def job(lease: RedisLease) -> bool:
        nonlocal running, most
        async with lease.holding() as held:
            if not held:
                return False
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.2)
            running -= 1
            return True

    ran = await asyncio.gather(*(job(lease) for lease in replicas))
    assert sorted(ran) == [False, True] and most == 1
    # Released after the job: the next tick in either replica may run it.
    assert await job(replicas[1]) is True


async def test_a_lease_whose_holder_died_frees_itself(client: aioredis.Redis) -> None:
    dead = RedisLease(client, "test:dead", 0.3)
    assert await dead.renew() is True  # and never renewed again
    waiting = RedisLease(client, "test:dead", 5)
    async with waiting.holding(wait_seconds=3) as held:
        assert held
