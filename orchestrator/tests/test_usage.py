"""Usage records from the gateway's Redis stream end up in `usage_events` exactly once, and are reported."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from nova_contracts.llm import UsageRecord
from orchestrator.usage.consumer import UsageConsumer
from orchestrator.usage.repository import UsageRepository

STREAM = "nova:usage:events"


def _db1(redis_base_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)


def _record(model: str = "gpt-4o-mini", **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "provider": "openai", "model": model, "input_tokens": 100, "output_tokens": 20,
        "cost_usd": 0.001, "latency_ms": 120, **fields,
    }  # fmt: skip
    return UsageRecord(**values)


def _publish(redis_base_url: str, *records: UsageRecord) -> None:
    db1 = _db1(redis_base_url)
    for record in records:
        db1.xadd(STREAM, {"record": record.model_dump_json()})


def test_usage_records_are_persisted_once_even_when_the_stream_repeats_them(
    client: TestClient, admin: dict[str, str], redis_base_url: str, run_sql: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:  # fmt: skip
    key = client.post("/api/v1/keys", json={"name": "ci"}, headers=admin).json()
    record = _record(api_key_id=key["id"], agent_id="a-1")
    _publish(redis_base_url, record, record, _record("claude-sonnet-4-6", cost_usd=0.01))
    wait_until(lambda: run_sql("SELECT count(*) AS n FROM usage_events")[0]["n"] == 2)

    events = client.get("/api/v1/usage", headers=admin).json()
    mine = next(e for e in events if e["id"] == str(record.id))
    assert (mine["api_key_name"], mine["agent_id"], mine["input_tokens"]) == ("ci", "a-1", 100)
    # Everything read was acknowledged.
    assert _db1(redis_base_url).xpending(STREAM, "orchestrator-usage")["pending"] == 0


def test_summary_groups_by_model_over_the_period(
    client: TestClient, admin: dict[str, str], redis_base_url: str, wait_until: Callable[..., Any]
) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    _publish(
        redis_base_url,
        _record("gpt-4o-mini"),
        _record("gpt-4o-mini", input_tokens=50, output_tokens=5, cost_usd=0.002),
        _record("local-model", provider="ollama", cost_usd=None),
        _record("gpt-4o-mini", created_at=old),
    )
    wait_until(lambda: len(client.get("/api/v1/usage", headers=admin).json()) == 4)

    day = client.get("/api/v1/usage/summary?period=day", headers=admin).json()
    by_model = {m["model"]: m for m in day["by_model"]}
    assert by_model["gpt-4o-mini"]["requests"] == 2 and by_model["gpt-4o-mini"]["input_tokens"] == 150
    assert abs(by_model["gpt-4o-mini"]["cost_usd"] - 0.003) < 1e-9
    assert by_model["local-model"]["cost_usd"] is None
    assert day["requests"] == 3
    assert client.get("/api/v1/usage/summary?period=week", headers=admin).json()["requests"] == 4
    assert client.get("/api/v1/usage/summary?period=year", headers=admin).status_code == 422


def test_a_consumer_that_crashed_before_acknowledging_replays_without_duplicates(
    client: TestClient, database_url: str, redis_base_url: str
) -> None:
    """Read, write, crash before XACK: the restarted consumer re-reads its pending entries; rows stay unique."""
    record = _record()
    _publish(redis_base_url, record)

    async def scenario() -> tuple[int, int]:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        db1 = aioredis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
        try:
            repository = UsageRepository(pool)
            consumer = UsageConsumer(
                db1, repository, stream=STREAM, group="crash-test", block_ms=100, consumer="c1"
            )
            await consumer.ensure_group()
            entries = await consumer._read(">", block=100)
            await repository.insert_many([(record, None)])  # committed, then the process "dies" before XACK
            assert len(entries) == 1
            restarted = UsageConsumer(
                db1, repository, stream=STREAM, group="crash-test", block_ms=100, consumer="c1"
            )
            await restarted.consume_once()
            pending = (await db1.xpending(STREAM, "crash-test"))["pending"]
            rows = await pool.fetchval("SELECT count(*) FROM usage_events WHERE id = $1", record.id)
            return pending, rows
        finally:
            await pool.close()
            await db1.aclose()

    assert asyncio.run(scenario()) == (0, 1)


def test_an_unreadable_entry_is_acknowledged_and_skipped(
    client: TestClient, admin: dict[str, str], redis_base_url: str, wait_until: Callable[..., Any]
) -> None:
    db1 = _db1(redis_base_url)
    db1.xadd(STREAM, {"record": "{not json"})
    good = _record(model=f"m-{uuid.uuid4().hex[:6]}")
    _publish(redis_base_url, good)
    wait_until(
        lambda: any(e["id"] == str(good.id) for e in client.get("/api/v1/usage", headers=admin).json())
    )
    wait_until(lambda: db1.xpending(STREAM, "orchestrator-usage")["pending"] == 0)
