"""asyncpg pools for the services that use raw SQL (orchestrator, cortex, recovery)."""

from collections.abc import Awaitable, Callable

import asyncpg


async def _keep_session(_: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own clean-up: nothing.

    asyncpg always rolls back a transaction left open and drops listeners when a connection returns to the
    pool; its default reset adds one more round trip per release (`RESET ALL; UNLISTEN *; CLOSE ALL;
    pg_advisory_unlock_all()`) for session state Nova does not leave behind: settings are changed with
    `SET LOCAL`/`set_config(..., true)`, locks are transaction-scoped (the one session lock, the migration
    lock, is released in a `finally`), and nothing LISTENs on a pooled connection.
    """


def application_name(service: str) -> str:
    """How a service's sessions are named in `pg_stat_activity` (recovery tells its own apart by it)."""
    return f"nova-{service}"


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, service: str | None = None
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=60,
        timeout=5,
        reset=_keep_session,
        server_settings={"application_name": application_name(service)} if service else None,
    )
    if pool is None:  # asyncpg types it optional; a pool that is awaited is always created
        raise RuntimeError("asyncpg returned no pool")
    return pool


def postgres_check(pool: asyncpg.Pool) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        async with pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    return check
