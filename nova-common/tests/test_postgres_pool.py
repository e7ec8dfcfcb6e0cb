"""The kit's asyncpg pool: a connection returned with a transaction still open comes back clean."""

from nova_common.postgres import create_pool


async def test_a_connection_released_inside_a_transaction_is_rolled_back(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE pool_probe (n int)")
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO pool_probe VALUES (1)")
            # released without COMMIT, as when a request is cancelled mid-transaction
        async with pool.acquire() as conn:  # max_size=1: the very same connection
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM pool_probe") == 0
            await conn.execute("INSERT INTO pool_probe VALUES (2)")
            assert await conn.fetchval("SELECT count(*) FROM pool_probe") == 1
    finally:
        await pool.close()
