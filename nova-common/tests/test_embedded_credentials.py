"""The embedded PostgreSQL and Redis are closed to other users of the machine: no login without the password
(over TCP or the socket), private directories and files, and every URL handed out carries the credentials."""

import stat
from pathlib import Path

import asyncpg
import pytest
import redis

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from nova_common.launcher import load_stack
from nova_common.redis import create_redis


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_postgres_refuses_a_login_without_the_password_over_tcp_and_the_socket(
    embedded_postgres: EmbeddedPostgres | None,
) -> None:
    if embedded_postgres is None:
        pytest.skip("NOVA_TEST_DATABASE_URL points at a server of the developer's")
    server = embedded_postgres
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host="127.0.0.1", port=server.port, user="nova", database="nova", password="")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host="127.0.0.1", port=server.port, user="nova", database="nova", password="not-the-password"
        )
    with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        await asyncpg.connect(host=str(server.socket_dir), port=server.port, user="nova", database="nova")
    conn = await asyncpg.connect(server.url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        rules = await conn.fetch("SELECT type, auth_method FROM pg_hba_file_rules")
    finally:
        await conn.close()
    assert {r["auth_method"] for r in rules} == {"scram-sha-256"}


def test_postgres_keeps_its_socket_and_data_in_private_directories(
    embedded_postgres: EmbeddedPostgres | None,
) -> None:
    if embedded_postgres is None:
        pytest.skip("NOVA_TEST_DATABASE_URL points at a server of the developer's")
    socket_dir = embedded_postgres.socket_dir
    assert _mode(socket_dir) == 0o700
    assert len(str(socket_dir / f".s.PGSQL.{embedded_postgres.port}")) < 107
    assert (socket_dir / f".s.PGSQL.{embedded_postgres.port}").exists()
    assert _mode(embedded_postgres.data_dir) == 0o700


async def test_a_cluster_that_trusted_local_logins_is_closed_at_its_next_start(tmp_path: Path) -> None:
    # What an older Nova left behind: `trust` for the socket and no password on the role.
    old = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    old.start()
    old.stop()
    hba = old.data_dir / "pg_hba.conf"
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    try:
        upgraded = EmbeddedPostgres(tmp_path / "pg", port=old.port, password="the-new-password-0123456789")
        upgraded.start()
        assert "trust" not in hba.read_text()
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                host="127.0.0.1", port=upgraded.port, user="nova", database="nova", password="x"
            )
        conn = await asyncpg.connect(upgraded.url)
        await conn.close()
    finally:
        upgraded.destroy()


def test_redis_refuses_commands_without_auth_and_runs_in_protected_mode(
    embedded_redis: EmbeddedRedis | None,
) -> None:
    if embedded_redis is None:
        pytest.skip("NOVA_TEST_REDIS_URL points at a server of the developer's")
    anonymous = redis.Redis(port=embedded_redis.port)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=embedded_redis.port, password="wrong").ping()
    client = redis.Redis.from_url(embedded_redis.url, decode_responses=True)
    try:
        assert client.ping()
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
    finally:
        client.close()


def test_the_redis_password_is_not_on_the_command_line(embedded_redis: EmbeddedRedis | None) -> None:
    if embedded_redis is None or embedded_redis.process is None:
        pytest.skip("NOVA_TEST_REDIS_URL points at a server of the developer's")
    cmdline = Path(f"/proc/{embedded_redis.process.pid}/cmdline").read_bytes()
    assert embedded_redis.password.encode() not in cmdline


def test_redis_files_are_private(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("nova:test:secret", "x")
        client.bgrewriteaof()
        client.close()
    finally:
        server.stop()
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("appendonly") for p in files), files
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(server.data_dir) == 0o700


async def test_the_test_sessions_redis_url_carries_a_password_each_services_client_keeps(
    redis_base_url: str, embedded_redis: EmbeddedRedis | None
) -> None:
    if embedded_redis is None:
        pytest.skip("NOVA_TEST_REDIS_URL points at a server of the developer's")
    assert redis_base_url.startswith(f"redis://:{embedded_redis.password}@")
    client = create_redis("orchestrator", redis_base_url)
    try:
        assert await client.ping()
        assert client.connection_pool.connection_kwargs["db"] == 2
    finally:
        await client.aclose()


def test_the_launcher_generates_both_passwords_into_a_private_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "NOVA_ADMIN_SECRET", "NOVA_SERVICE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOVA_ENV_FILE", str(tmp_path / ".env"))
    stack = load_stack(tmp_path)
    assert len(stack.env["REDIS_PASSWORD"]) >= 32 and len(stack.env["POSTGRES_PASSWORD"]) >= 32
    assert stack.env["REDIS_PASSWORD"] != stack.env["POSTGRES_PASSWORD"]
    assert _mode(tmp_path / ".env") == 0o600
