"""asyncpg pools for the services that use raw SQL (orchestrator, cortex, recovery)."""

from collections.abc import Awaitable, Callable

import asyncpg


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=60, timeout=5)
    assert pool is not None
    return pool


def postgres_check(pool: asyncpg.Pool) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        async with pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    return check
