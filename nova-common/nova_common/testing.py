"""Pytest plugin: one embedded PostgreSQL (pgvector) and one embedded Redis per test session.

Isolation: `database_url` gives each test its own freshly created database; `redis_base_url` flushes every
Redis DB before the test. Set NOVA_TEST_DATABASE_URL / NOVA_TEST_REDIS_URL to use servers of your own.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port


@pytest.fixture(scope="session")
def embedded_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("NOVA_TEST_DATABASE_URL"):
        yield None
        return
    server = EmbeddedPostgres(data_dir=tmp_path_factory.mktemp("pg") / "data", port=free_port())
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def postgres_admin_url(embedded_postgres: EmbeddedPostgres | None) -> str:
    """A URL to the server's maintenance database, for creating per-test databases."""
    if embedded_postgres is None:
        return os.environ["NOVA_TEST_DATABASE_URL"]
    return embedded_postgres.url


@pytest.fixture
async def database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A brand-new, empty database for this test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = postgres_admin_url.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis | None]:
    if os.environ.get("NOVA_TEST_REDIS_URL"):
        yield None
        return
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_base_url(embedded_redis: EmbeddedRedis | None) -> str:
    """The Redis URL every service derives its own DB from; all DBs are empty when the test starts."""
    url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()
    return url


@pytest.fixture
def nova_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Secrets and a clean working directory, so no developer `.env` leaks into a test."""
    monkeypatch.chdir(tmp_path)
    values = {
        "NOVA_ADMIN_SECRET": "test-admin-secret-0123456789",
        "NOVA_SERVICE_TOKEN": "test-service-token-0123456789",
        "LOG_FORMAT": "console",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values
