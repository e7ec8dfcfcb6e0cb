"""More than one memory-service consuming the ingestion queue: every item is formed exactly once, a
consumer killed mid-batch loses nothing (another takes its processing list back once its heartbeat has
expired), and consolidation runs once cluster-wide."""

import json
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from fakes import FakeOpenAI, Reply

BASE = "/api/v1/memories"
QUEUE_KEY = "nova:memory:ingest:queue"
ITEMS = 40


def in_processing(queue: redis.Redis, consumer: str) -> int:
    return int(queue.llen(f"nova:memory:ingest:processing:{consumer}"))


def test_two_consumers_form_every_item_once_and_a_consumer_killed_mid_batch_loses_nothing(
    nova_env: dict[str, str],
    database_url: str,
    redis_base_url: str,
    gateway_url: str,
    fake_model: FakeOpenAI,
    run_sql: Callable[..., list[Any]],
    wait_until: Any,
    tmp_path: Path,
    memory_process: Callable[..., Any],
) -> None:
    # Not JSON: each item is kept as one plain episode with its own text, so a copy would show. The delay
    # keeps batches in flight long enough to kill a consumer in the middle of one.
    fake_model.script.default = Reply(content="no JSON here", delay=0.5)
    env = {
        **nova_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_base_url,
        "LLM_GATEWAY_URL": gateway_url,
        "CONSOLIDATION_ENABLED": "false",
        "COMPACTION_ENABLED": "false",
        "INGEST_BATCH_SIZE": "8",
        "INGEST_CONSUMER_TTL_SECONDS": "2",
        # The notes differ by a number only: near-duplicates by embedding, which would reinforce each other.
        "FORMATION_DEDUP_SIMILARITY": "1.0",
    }
    queue = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    texts = [f"Note {n}: the user's reminder number {n}." for n in range(ITEMS)]
    items = [
        json.dumps(
            {
                "id": str(uuid.uuid4()),
                "enqueued_at": "2026-01-01T00:00:00Z",
                "content": text,
                "source": {"kind": "api"},
            }
        )
        for text in texts
    ]
    try:
        with (
            memory_process({**env, "INGEST_CONSUMER_ID": "a"}, tmp_path / "a.log") as (_, a),
            memory_process({**env, "INGEST_CONSUMER_ID": "b"}, tmp_path / "b.log") as (url_b, _),
        ):
            # Both consumers are waiting on the queue before the items arrive.
            queue.lpush(QUEUE_KEY, *items)
            wait_until(lambda: in_processing(queue, "a") > 0 and in_processing(queue, "b") > 0)
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=15)
            left_by_a = in_processing(queue, "a")
            assert left_by_a > 0

            wait_until(lambda: run_sql("SELECT count(*) AS n FROM ingestions")[0]["n"] == ITEMS, timeout=120)
            wait_until(lambda: in_processing(queue, "b") == 0 and queue.llen(QUEUE_KEY) == 0)

            assert in_processing(queue, "a") == 0
            assert not queue.sismember("nova:memory:ingest:consumers", "a")
            rows = run_sql("SELECT content, count(*) AS n FROM memories GROUP BY content")
            assert {r["content"]: r["n"] for r in rows} == dict.fromkeys(texts, 1)
            assert queue.llen("nova:memory:ingest:dead") == 0
            # Only what the killed consumer had in hand was extracted twice.
            assert ITEMS <= len(fake_model.script.requests) <= ITEMS + left_by_a
            details = httpx.get(f"{url_b}/health/ready").json()["details"]["ingestion"]
            assert details["reclaimed"] == left_by_a
    finally:
        queue.close()


def test_nightly_consolidation_runs_once_across_two_replicas(
    make_service: Callable[..., Any], gateway_url: str, fake_model: FakeOpenAI, wait_until: Any
) -> None:
    now = datetime.now(UTC)
    if now.minute == 59 and now.second > 40:  # the nightly hour must not end while the test runs
        time.sleep(61 - now.second)
    hour = datetime.now(UTC).hour
    settings = {
        "CONSOLIDATION_NIGHTLY_HOUR": hour,
        "CONSOLIDATION_CHECK_INTERVAL_SECONDS": 0.1,
        "INGEST_ENABLED": False,
        "COMPACTION_ENABLED": False,
    }
    with make_service(gateway_url, **settings) as first, make_service(gateway_url, **settings) as second:
        wait_until(lambda: first.get(f"{BASE}/consolidation-log").json()["total"] >= 1)
        # Both replicas checked dozens of times within the nightly hour meanwhile.
        time.sleep(2)
        runs = second.get(f"{BASE}/consolidation-log").json()["items"]
    assert [r["trigger"] for r in runs] == ["nightly"]
