"""Embeddings: the three cache levels, re-embedding after a model change, and the gateway being down.

Gateway calls are counted from the gateway's own usage records (one per /embed call, Redis stream
`nova:usage:events` in its DB), never from a stand-in.
"""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.embedded import free_port
from nova_common.redis import redis_url_for

MEMORIES = "/api/v1/memories"
MODEL, DIM = "all-MiniLM-L6-v2", 384
SHORT = "Sam keeps the spare office keys in the top drawer"
LONG = " ".join(f"word{i} filler" for i in range(60))


@pytest.fixture
def gateway_redis(test_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url_for("llm-gateway", test_redis_url))
    yield client
    client.close()


@pytest.fixture
def own_redis(test_redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url_for("memory-service", test_redis_url))
    yield client
    client.close()


def gateway_embed_calls(gateway_redis: redis.Redis) -> list[dict[str, Any]]:
    records = [json.loads(fields[b"record"]) for _, fields in gateway_redis.xrange("nova:usage:events")]
    return [r for r in records if r.get("kind") == "embedding"]


def store(client: TestClient, content: str) -> dict[str, Any]:
    response = client.post(MEMORIES, json={"content": content})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def l1_key(content: str) -> str:
    return f"nova:memory:embedding:{MODEL}:{DIM}:{hashlib.sha256(content.encode()).hexdigest()}"


def calls_once_long_text_recorded(client: TestClient, gateway_redis: redis.Redis, wait_until: Any) -> int:
    """Store LONG (a guaranteed gateway call) and return the call count once its record is written.

    The gateway writes its records in order, so any call made before LONG's is in the count by then."""
    store(client, LONG)
    calls = wait_until(
        lambda: (
            [c for c in gateway_embed_calls(gateway_redis) if c["input_tokens"] >= 60]
            and gateway_embed_calls(gateway_redis)
        )
    )
    return len(calls)


def test_a_second_identical_store_is_answered_by_redis_without_the_gateway(
    service: TestClient, gateway_redis: redis.Redis, own_redis: redis.Redis, wait_until: Any
) -> None:
    store(service, SHORT)
    assert own_redis.exists(l1_key(SHORT))

    again = store(service, SHORT)

    assert again["embedded"] is True
    # startup probe, the first SHORT, LONG: no call for the second SHORT
    assert calls_once_long_text_recorded(service, gateway_redis, wait_until) == 3
    cache = service.get("/health/ready").json()["details"]["embeddings"]["cache"]
    assert cache["redis_hits"] >= 1


def test_without_redis_entries_postgres_answers_and_refills_redis(
    service: TestClient, gateway_redis: redis.Redis, own_redis: redis.Redis, wait_until: Any
) -> None:
    store(service, SHORT)
    own_redis.flushdb()

    store(service, SHORT)

    assert calls_once_long_text_recorded(service, gateway_redis, wait_until) == 3
    assert service.get("/health/ready").json()["details"]["embeddings"]["cache"]["postgres_hits"] >= 1
    assert own_redis.exists(l1_key(SHORT))


def test_memory_stored_while_the_gateway_is_down_is_kept_and_embedded_once_it_is_up(
    make_service: Any, start_gateway: Any, tmp_path: Path, wait_until: Any
) -> None:
    port = free_port()
    overrides = {"EMBEDDING_BACKLOG_INTERVAL_SECONDS": 0.3, "EMBEDDING_RETRY_AFTER_SECONDS": 0.2}
    with make_service(f"http://127.0.0.1:{port}", **overrides) as client:
        stored = store(client, "The launch checklist lives in the ops wiki")
        assert stored["embedded"] is False

        down = client.post(f"{MEMORIES}/search", json={"query": "where is the launch checklist"}).json()
        assert down["keyword_only_fallback"] is True and down["fusion"] == "keyword"
        assert [h["memory"]["id"] for h in down["hits"]] == [stored["id"]]
        assert client.get("/health/ready").status_code == 200  # the gateway is reported, not required

        with start_gateway(port, tmp_path / "gateway.log"):
            wait_until(lambda: client.get(f"{MEMORIES}/{stored['id']}").json()["embedded"], timeout=120)
            up = client.post(f"{MEMORIES}/search", json={"query": "where is the launch checklist"}).json()

    assert up["keyword_only_fallback"] is False
    assert up["hits"][0]["memory"]["id"] == stored["id"] and up["hits"][0]["vector_score"] is not None


def test_vectors_of_an_older_model_are_re_embedded_in_the_background(
    make_service: Any, gateway_url: str, run_sql: Any, wait_until: Any
) -> None:
    with make_service(gateway_url):
        pass  # creates the schema
    # The state a service left behind when the gateway served an 8-dimensional "legacy-model".
    for i in range(5):
        run_sql(
            "INSERT INTO memories (id, tier, content, content_hash, embedding, embedding_model, embedding_dim, "
            "embedded_at) VALUES (gen_random_uuid(), 'episodic', $1, md5($1), $2::vector, 'legacy-model', 8, now())",
            f"legacy note {i} about glaciers",
            str([float(i + 1)] * 8),
        )
    run_sql("UPDATE embedding_target SET model = 'legacy-model', dim = 8")

    with make_service(gateway_url, EMBEDDING_BACKLOG_INTERVAL_SECONDS=0.3, EMBEDDING_BATCH_SIZE=2) as client:
        status = wait_until(lambda: (s := client.get(f"{MEMORIES}/reembed").json())["state"] == "done" and s)
        hits = client.post(f"{MEMORIES}/search", json={"query": "glaciers", "fusion": "dense"}).json()["hits"]

    assert (status["total"], status["done"]) == (5, 5)
    assert (status["target_model"], status["target_dim"]) == (MODEL, DIM)
    assert run_sql("SELECT DISTINCT embedding_model, embedding_dim FROM memories")[0] == (MODEL, DIM)
    indexes = [
        r["indexname"]
        for r in run_sql("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'memories_embedding_hnsw_%'")
    ]
    assert len(indexes) == 1 and indexes[0].startswith(f"memories_embedding_hnsw_{DIM}_")
    assert len(hits) == 5 and all(h["vector_score"] is not None for h in hits)


def test_reembed_status_is_idle_before_any_model_change(service: TestClient) -> None:
    assert service.get(f"{MEMORIES}/reembed").json() == {
        "job_id": None,
        "state": "idle",
        "total": 0,
        "done": 0,
        "target_model": None,
        "target_dim": None,
        "error": None,
    }
