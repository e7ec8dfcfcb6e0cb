"""Recovery test fixtures: a database with every service's real schema, seeded with each kind of data.

Snapshots are taken independently of recovery's own checksums (full rows, logical Redis values), so a test
compares what a user would see, not what the code under test says about itself.
"""

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.migrations import MigrationSet, migrate
from recovery.config import Settings
from recovery.main import create_app

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = (
    MigrationSet(ROOT / "orchestrator" / "orchestrator" / "migrations", "schema_migrations", 0x4E4F5641_0001),
    MigrationSet(
        ROOT / "memory-service" / "memory_service" / "migrations",
        "memory_schema_migrations",
        0x6E6F76612D6D656D,
    ),
)
ADMIN = {"X-Admin-Secret": "test-admin-secret-0123456789"}
ENV_FILE_TEXT = """# Nova settings
NOVA_ADMIN_SECRET=test-admin-secret-0123456789
NOVA_SERVICE_TOKEN=test-service-token-0123456789
POSTGRES_PASSWORD=machine-only-password-0000
# a provider key
ANTHROPIC_API_KEY=sk-ant-test-secret-value-42
"""


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _seed_sql(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        key_id = await conn.fetchval(
            "INSERT INTO api_keys (name, key_hash, key_prefix) VALUES ('ci', $1, 'sk-nova-abcdef') RETURNING id",
            "a" * 64,
        )
        await conn.execute(
            "INSERT INTO platform_config (key, value) VALUES ('llm.default_chat_model', '\"openai/gpt-4o\"'),"
            " ('limits.agents_per_key', '5')"
        )
        conversation = await conn.fetchval(
            "INSERT INTO conversations (session_id, agent_id, title, api_key_id, owner_kind)"
            " VALUES ('s1', 'a1', 'Hello', $1, 'api_key')"
            " RETURNING id",
            key_id,
        )
        await conn.executemany(
            "INSERT INTO messages (conversation_id, role, content) VALUES ($1, $2, $3)",
            [(conversation, "user", "hi ☃"), (conversation, "assistant", "hello\nthere")],
        )
        await conn.executemany(
            "INSERT INTO memories (id, tier, content, content_hash, embedding, embedding_model, embedding_dim)"
            " VALUES ($1, 'semantic', $2, md5($2), $3::vector, 'test-model', 3)",
            [(uuid.uuid4(), f"memory {i}", f"[{i}.5, 0.25, -1.125]") for i in range(20)],
        )
        await conn.execute(
            "INSERT INTO pipeline_tasks (goal, status, pod) VALUES ('write a report', 'queued', '{}'::jsonb)"
        )
        await conn.execute("INSERT INTO goals (title, created_by) VALUES ('learn', 'admin')")
    finally:
        await conn.close()


def seed_redis(url: str) -> None:
    def db(n: int) -> redis.Redis:
        return redis.Redis.from_url(url.rsplit("/", 1)[0] + f"/{n}")

    config = db(1)
    config.set("nova:config:llm.default_chat_model", json.dumps("openai/gpt-4o"))
    agents = db(2)
    # The orchestrator's own shapes: a hash per agent, a set of ids, and the primary agent's id as a string
    # (other tests' stacks start an orchestrator on the same Redis and read them).
    primary, helper = str(uuid.uuid4()), str(uuid.uuid4())
    agents.hset(f"nova:agent:{primary}", mapping={"name": "Nova", "tools": json.dumps(["read_file"])})
    agents.hset(f"nova:agent:{helper}", mapping={"name": "helper", "tools": json.dumps([])})
    agents.sadd("nova:agents", primary, helper)
    agents.set("nova:agent:primary", primary)
    agents.zadd("nova:pipeline:due", {"t1": 1.5, "t2": 2.25})
    agents.xadd("nova:usage:events", {"tokens": "12", "model": "m"})
    agents.xgroup_create("nova:usage:events", "orchestrator-usage", id="0")
    agents.set(b"nova:binary", bytes(range(256)))
    sessions = db(3)
    sessions.rpush("nova:chat:pending:s1", "one", "two")
    sessions.expire("nova:chat:pending:s1", 3600)
    db(0).set("nova:cache:embed:x", "cached")  # volatile: neither backed up nor replaced
    for client in (config, agents, sessions):
        client.close()


@pytest.fixture
def seeded_database(database_url: str) -> str:
    async def prepare() -> None:
        for schema in SCHEMAS:
            await migrate(database_url, schema)
        await _seed_sql(database_url)

    run(prepare())
    return database_url


def _db_snapshot(url: str) -> dict[str, list[str]]:
    """Every row of every table as text, sorted: what a restore must bring back exactly."""

    async def take() -> dict[str, list[str]]:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET TimeZone = 'UTC'")
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
            out = {}
            for row in tables:
                name = row["tablename"]
                rows = await conn.fetch(f'SELECT t::text AS r FROM "{name}" t')
                out[name] = sorted(r["r"] for r in rows)
            return out
        finally:
            await conn.close()

    result: dict[str, list[str]] = run(take())
    return result


def _redis_snapshot(url: str) -> dict[tuple[int, bytes], Any]:
    """Every key of DBs 0-9 with its logical value and whether it expires."""
    out: dict[tuple[int, bytes], Any] = {}
    for n in range(10):
        client = redis.Redis.from_url(url.rsplit("/", 1)[0] + f"/{n}")
        try:
            for key in client.scan_iter():
                kind = client.type(key).decode()
                value: Any
                if kind == "string":
                    value = client.get(key)
                elif kind == "hash":
                    value = client.hgetall(key)
                elif kind == "list":
                    value = client.lrange(key, 0, -1)
                elif kind == "set":
                    value = client.smembers(key)
                elif kind == "zset":
                    value = client.zrange(key, 0, -1, withscores=True)
                else:
                    value = (client.xrange(key), [g["name"] for g in client.xinfo_groups(key)])
                out[(n, key)] = (kind, value, client.pttl(key) > 0)
        finally:
            client.close()
    return out


@pytest.fixture
def recovery_settings(
    nova_env: dict[str, str], tmp_path: Path, seeded_database: str, redis_base_url: str
) -> Settings:
    workspace = tmp_path / "workspace"
    (workspace / "project").mkdir(parents=True)
    (workspace / "project" / "notes.md").write_text("# notes\n")
    (workspace / "top.txt").write_text("top")
    env_file = tmp_path / "nova.env"
    env_file.write_text(ENV_FILE_TEXT)
    seed_redis(redis_base_url)
    return Settings.model_validate(
        {
            "DATABASE_URL": seeded_database,
            "REDIS_URL": redis_base_url,
            "NOVA_DATA_DIR": str(tmp_path / "data"),
            "NOVA_WORKSPACE": str(workspace),
            "NOVA_ENV_FILE": str(env_file),
            # Tests take checkpoints themselves; the loop's first check comes after they end.
            "checkpoint_check_seconds": 3600,
        }
    )


@pytest.fixture
def client(recovery_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(recovery_settings)) as test_client:
        yield test_client


def _backup_events(client: TestClient, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    events = []
    with client.stream("POST", "/api/v1/recovery/backups", headers=ADMIN, json=body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                events.append(json.loads(line[5:]))
    return events


@pytest.fixture
def make_backup(client: TestClient) -> Callable[..., str]:
    def make(**body: Any) -> str:
        events = _backup_events(client, body or None)
        assert events[-1]["phase"] == "done", events[-1]
        name: str = events[-1]["backup"]["name"]
        return name

    return make


@pytest.fixture
def admin() -> dict[str, str]:
    return dict(ADMIN)


@pytest.fixture
def backup_events() -> Callable[..., list[dict[str, Any]]]:
    return _backup_events


@pytest.fixture
def snapshot(seeded_database: str, redis_base_url: str) -> Callable[[], tuple[Any, Any]]:
    """Everything a restore must bring back: every row, every non-volatile Redis key."""

    def take() -> tuple[Any, Any]:
        redis_state = {
            k: v
            for k, v in _redis_snapshot(redis_base_url).items()
            if not k[1].startswith((b"nova:cache:", b"nova:recovery:", b"nova:system:"))
        }
        return _db_snapshot(seeded_database), redis_state

    return take
