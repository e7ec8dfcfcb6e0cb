"""The embedded PostgreSQL runs with the settings the Compose and Kubernetes servers are given
(tests/test_compose.py checks those files against the same constant)."""

import asyncpg
import pytest

from nova_common.embedded import SHARED_BUFFERS, EmbeddedPostgres


async def test_the_embedded_server_runs_with_the_shared_buffers_compose_gives_its_own(
    embedded_postgres: EmbeddedPostgres | None,
) -> None:
    if embedded_postgres is None:
        pytest.skip("NOVA_TEST_DATABASE_URL points at a server of the developer's")
    conn = await asyncpg.connect(embedded_postgres.url)
    try:
        assert await conn.fetchval("SHOW shared_buffers") == SHARED_BUFFERS
    finally:
        await conn.close()
