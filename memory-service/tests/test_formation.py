"""Memory formation end to end: items go through the Redis queue, the real llm-gateway asks a deterministic
fake model (scripted JSON) for the extraction, and the memories land in real PostgreSQL."""

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fakes import FakeOpenAI, Reply
from fastapi.testclient import TestClient

# make_service (conftest): start the app with setting overrides, as a context manager.
ServiceFactory = Callable[..., Any]
BASE = "/api/v1/memories"
QUEUE_KEY = "nova:memory:ingest:queue"


def extraction(
    facts: list[dict[str, Any]] | None = None,
    *,
    preferences: list[dict[str, Any]] | None = None,
    entities: list[dict[str, Any]] | None = None,
    summary: str = "",
) -> Reply:
    body = {
        "facts": facts or [],
        "preferences": preferences or [],
        "entities": entities or [],
        "summary": summary,
        "summary_importance": 0.6,
    }
    return Reply(content=json.dumps(body))


LISBON = extraction(
    [
        {
            "subject": "user",
            "attribute": "lives_in",
            "value": "Lisbon",
            "statement": "The user lives in Lisbon.",
            "confidence": 0.9,
            "importance": 0.8,
        }
    ],
    summary="The user said they moved to Lisbon last month.",
)
TURN = "User: I moved to Lisbon last month.\nAssistant: Congratulations on the move!"


def ingest(client: TestClient, content: str = TURN, **fields: Any) -> str:
    body = {"content": content, "source": {"kind": "chat", "title": "chat turn"}, **fields}
    response = client.post(f"{BASE}/ingest", json=body)
    assert response.status_code == 202, response.text
    item_id: str = response.json()["id"]
    return item_id


def drained(client: TestClient) -> bool:
    depth = client.get(f"{BASE}/ingest/queue").json()
    return depth["queued"] == 0 and depth["processing"] == 0


def formed(run_sql: Callable[..., list[Any]], item_id: str) -> bool:
    rows = run_sql("SELECT 1 FROM ingestions WHERE item_id = $1 AND source_id IS NOT NULL", item_id)
    return bool(rows)


def browse(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    page = client.get(f"{BASE}/browse", params={"limit": 200, **params}).json()
    items: list[dict[str, Any]] = page["items"]
    return items


def test_moving_to_lisbon_supersedes_lives_in_porto_with_the_old_value_kept_in_history(
    service: TestClient, fake_model: FakeOpenAI, run_sql: Callable[..., list[Any]], wait_until: Any
) -> None:
    porto = service.post(
        f"{BASE}/facts",
        json={
            "project_id": "nova",
            "category": "user",
            "key": "lives_in",
            "content": "The user lives in Porto.",
            "confidence": 0.9,
        },
    ).json()["memory"]
    fake_model.script.push(LISBON)

    item_id = ingest(service)
    wait_until(lambda: formed(run_sql, item_id))

    fact = service.get(f"{BASE}/{porto['id']}").json()
    assert fact["content"] == "The user lives in Lisbon."
    assert fact["source"]["kind"] == "chat" and fact["source"]["trust"] == 0.9
    [revision] = service.get(f"{BASE}/{porto['id']}/history").json()["revisions"]
    assert revision["content"] == "The user lives in Porto."
    assert revision["confidence"] < 0.9  # the loser's confidence is lowered
    [contradiction] = service.get(f"{BASE}/contradictions").json()["items"]
    assert contradiction["state"] == "superseded"
    assert contradiction["previous_content"] == "The user lives in Porto."
    facts = [m for m in browse(service, tier="semantic") if m["key"] == "lives_in"]
    assert len(facts) == 1
    [episode] = browse(service, tier="episodic")
    assert episode["content"] == "The user said they moved to Lisbon last month."
    assert episode["source_id"] == fact["source_id"]
    # A source lists the memories formed from it, and no others.
    from_source = {m["id"] for m in browse(service, source_id=fact["source_id"])}
    assert from_source == {fact["id"], episode["id"]}
    assert browse(service, source_id=str(uuid.uuid4())) == []
    # The extraction asked for a JSON schema.
    request = fake_model.script.last_request
    assert request["response_format"]["type"] == "json_schema"
    # A recall says why: the score and the source.
    context = service.post(f"{BASE}/agent-1/context", json={"query": "Where does the user live?"}).json()
    recalled = {item["id"]: item for item in context["items"]}
    assert recalled[porto["id"]]["source_id"] == fact["source_id"]
    assert recalled[porto["id"]]["score"] > 0


def test_the_same_fact_ingested_twice_is_one_memory_reinforced(
    service: TestClient, fake_model: FakeOpenAI, run_sql: Callable[..., list[Any]], wait_until: Any
) -> None:
    fake_model.script.push(LISBON, LISBON)

    first = ingest(service)
    wait_until(lambda: formed(run_sql, first))
    [fact] = [m for m in browse(service, tier="semantic") if m["key"] == "lives_in"]
    second = ingest(service)
    wait_until(lambda: formed(run_sql, second))

    facts = [m for m in browse(service, tier="semantic") if m["key"] == "lives_in"]
    assert [f["id"] for f in facts] == [fact["id"]]
    assert facts[0]["importance"] > fact["importance"]
    assert len(browse(service, tier="episodic")) == 1
    sources = service.get(f"{BASE}/sources").json()
    assert sources["total"] == 1 and sources["items"][0]["memory_count"] == 2
    [result] = run_sql("SELECT result FROM ingestions WHERE item_id = $1", second)
    assert json.loads(result["result"])["created"] == []


def test_an_unusable_model_answer_keeps_the_text_as_a_flagged_plain_episode(
    service: TestClient, fake_model: FakeOpenAI, run_sql: Callable[..., list[Any]], wait_until: Any
) -> None:
    # What a small local model often does with a JSON schema.
    fake_model.script.push(Reply(content='Sure! Here is the JSON: {"facts": [{"subject": "user", "attri'))

    item_id = ingest(service, "User: my cat is called Miso.\nAssistant: What a lovely name.")
    wait_until(lambda: formed(run_sql, item_id))

    [episode] = browse(service, tier="episodic")
    assert episode["content"] == "User: my cat is called Miso.\nAssistant: What a lovely name."
    assert episode["metadata"]["formation"] == "unextracted"
    assert service.get(f"{BASE}/stats").json()["unextracted"] == 1


def test_a_poison_item_is_dead_lettered_after_its_attempts_and_the_queue_moves_on(
    make_service: ServiceFactory,
    gateway_url: str,
    redis_base_url: str,
    fake_model: FakeOpenAI,
    run_sql: Callable[..., list[Any]],
    wait_until: Any,
) -> None:
    fake_model.script.default = LISBON
    queue = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    # A producer with a broken serializer: the entry can never be formed.
    queue.lpush(QUEUE_KEY, '{"id": "not-a-uuid", "content": 42}')
    try:
        with make_service(gateway_url, INGEST_MAX_ATTEMPTS=3) as client:
            good = ingest(client)
            wait_until(lambda: client.get(f"{BASE}/ingest/dead-letters").json()["total"] == 1)
            wait_until(lambda: formed(run_sql, good))
            wait_until(lambda: drained(client))

            [letter] = client.get(f"{BASE}/ingest/dead-letters").json()["items"]
            assert letter["attempts"] == 3
            assert "not a valid IngestItem" in letter["error"]
            assert letter["payload"] == '{"id": "not-a-uuid", "content": 42}'

            requeued = client.post(f"{BASE}/ingest/dead-letters/{letter['id']}/requeue")
            assert requeued.status_code == 200
            wait_until(lambda: client.get(f"{BASE}/ingest/dead-letters").json()["total"] == 1)
            assert client.delete(f"{BASE}/ingest/dead-letters/{letter['id']}").status_code == 204
            assert client.get(f"{BASE}/ingest/dead-letters").json()["total"] == 0
            assert client.delete(f"{BASE}/ingest/dead-letters/{letter['id']}").status_code == 404
    finally:
        queue.close()


def test_the_same_new_fact_from_two_items_formed_at_once_is_one_memory(
    make_service: ServiceFactory,
    gateway_url: str,
    redis_base_url: str,
    fake_model: FakeOpenAI,
    run_sql: Callable[..., list[Any]],
    wait_until: Any,
) -> None:
    fake_model.script.default = LISBON
    queue = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    ids = ["6f9c1a52-0000-4000-8000-0000000000a1", "6f9c1a52-0000-4000-8000-0000000000a2"]
    for item_id in ids:
        item = {
            "id": item_id,
            "enqueued_at": "2026-01-01T00:00:00Z",
            "content": TURN,
            "source": {"kind": "chat"},
        }
        queue.lpush(QUEUE_KEY, json.dumps(item))
    try:
        # Two consumers take one item each as soon as the service starts.
        with make_service(gateway_url, INGEST_CONCURRENCY=2, INGEST_BATCH_SIZE=1) as client:
            wait_until(lambda: all(formed(run_sql, i) for i in ids))
            assert drained(client)
            facts = [m for m in browse(client, tier="semantic") if m["key"] == "lives_in"]
            assert len(facts) == 1
            assert client.get(f"{BASE}/ingest/dead-letters").json()["total"] == 0
    finally:
        queue.close()


PORTO = extraction(
    [
        {
            "subject": "user",
            "attribute": "lives_in",
            "value": "Porto",
            "statement": "The user lives in Porto.",
            "confidence": 0.9,
            "importance": 0.8,
        }
    ],
    summary="The user said they live in Porto.",
)


def test_items_formed_in_one_batch_end_as_if_formed_one_after_the_other(
    make_service: ServiceFactory,
    gateway_url: str,
    redis_base_url: str,
    fake_model: FakeOpenAI,
    run_sql: Callable[..., list[Any]],
    wait_until: Any,
) -> None:
    # Porto, then Lisbon, then Lisbon again, queued before the service starts: one batch takes all three.
    fake_model.script.push(PORTO, LISBON, LISBON)
    queue = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    ids = [f"6f9c1a52-0000-4000-8000-0000000000b{n}" for n in range(3)]
    for n, item_id in enumerate(ids):
        item = {
            "id": item_id,
            "enqueued_at": "2026-01-01T00:00:00Z",
            "content": f"{TURN} ({n})",
            "source": {"kind": "chat"},
        }
        queue.lpush(QUEUE_KEY, json.dumps(item))
    try:
        # One extraction at a time, in queue order: the scripted replies meet the items in order.
        with make_service(
            gateway_url, INGEST_BATCH_SIZE=32, INGEST_CONCURRENCY=1, EXTRACTION_CONCURRENCY=1
        ) as client:
            wait_until(lambda: all(formed(run_sql, i) for i in ids))
            [fact] = [m for m in browse(client, tier="semantic") if m["key"] == "lives_in"]
            assert fact["content"] == "The user lives in Lisbon."
            [revision] = client.get(f"{BASE}/{fact['id']}/history").json()["revisions"]
            assert revision["content"] == "The user lives in Porto."
            [contradiction] = client.get(f"{BASE}/contradictions").json()["items"]
            assert contradiction["state"] == "superseded"
            # The third item repeats the second: its fact and its summary reinforce what the batch made.
            episodes = {m["content"]: m["id"] for m in browse(client, tier="episodic")}
            assert set(episodes) == {
                "The user said they live in Porto.",
                "The user said they moved to Lisbon last month.",
            }
            [third] = run_sql("SELECT result FROM ingestions WHERE item_id = $1", ids[2])
            result = json.loads(third["result"])
            assert result["created"] == []
            lisbon_episode = episodes["The user said they moved to Lisbon last month."]
            assert sorted(result["reinforced"]) == sorted([fact["id"], lisbon_episode])
    finally:
        queue.close()


def test_a_full_ingestion_queue_answers_429(make_service: ServiceFactory, gateway_url: str) -> None:
    with make_service(gateway_url, INGEST_ENABLED=False, INGEST_QUEUE_MAX_LENGTH=1) as client:
        ingest(client)
        response = client.post(f"{BASE}/ingest", json={"content": "x", "source": {"kind": "api"}})
        assert response.status_code == 429
        assert "queue is full" in response.json()["detail"]
        assert response.headers["retry-after"]


def test_an_ingest_request_with_an_unknown_source_kind_is_a_422(service: TestClient) -> None:
    response = service.post(f"{BASE}/ingest", json={"content": "x", "source": {"kind": "rumour"}})
    assert response.status_code == 422


def test_feedback_moves_importance_of_used_memories_up_and_down_within_bounds(
    make_service: ServiceFactory, gateway_url: str
) -> None:
    with make_service(gateway_url, FEEDBACK_STEP=0.5, INGEST_ENABLED=False) as client:
        [used, unused] = client.post(
            f"{BASE}/bulk",
            json={
                "items": [
                    {"content": "The deploy target is eu-west-1.", "tier": "semantic"},
                    {"content": "Deploys happen on Tuesdays after review.", "tier": "semantic"},
                ]
            },
        ).json()

        def turn(outcome: str) -> dict[str, Any]:
            context = client.post(f"{BASE}/agent-1/context", json={"query": "where and when do we deploy"})
            body = context.json()
            assert {used["id"], unused["id"]} <= set(map(str, body["memory_ids"]))
            response = client.post(
                f"{BASE}/feedback",
                json={
                    "retrieval_id": body["retrieval_id"],
                    "used_memory_ids": [used["id"]],
                    "outcome": outcome,
                },
            )
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        first = turn("success")
        assert first["importance"][used["id"]] == pytest.approx(0.75)
        for _ in range(10):
            turn("success")
        assert 0.99 < client.get(f"{BASE}/{used['id']}").json()["importance"] <= 1.0
        for _ in range(20):
            turn("failure")
        assert client.get(f"{BASE}/{used['id']}").json()["importance"] == pytest.approx(0.05, abs=1e-6)
        assert client.get(f"{BASE}/{unused['id']}").json()["importance"] == 0.5

        stats = client.get(f"{BASE}/stats").json()
        assert stats["retrievals_with_feedback"] == 31
        assert stats["usage_rate"] == pytest.approx(0.5)


def test_feedback_is_counted_once_per_retrieval(make_service: ServiceFactory, gateway_url: str) -> None:
    with make_service(gateway_url, INGEST_ENABLED=False) as client:
        client.post(BASE, json={"content": "The build runs on Fridays.", "tier": "semantic"})
        body = client.post(f"{BASE}/agent-1/context", json={"query": "build"}).json()
        feedback = {"retrieval_id": body["retrieval_id"], "used_memory_ids": [], "outcome": "neutral"}
        assert client.post(f"{BASE}/feedback", json=feedback).status_code == 200
        assert client.post(f"{BASE}/feedback", json=feedback).status_code == 409
        unknown = {**feedback, "retrieval_id": "00000000-0000-4000-8000-000000000000"}
        assert client.post(f"{BASE}/feedback", json=unknown).status_code == 404


def test_consolidation_merges_duplicates_and_summarises_a_seeded_episode_cluster(
    make_service: ServiceFactory, gateway_url: str, fake_model: FakeOpenAI, run_sql: Callable[..., list[Any]]
) -> None:
    fake_model.script.push(Reply(content="The user goes hiking in the Alps with friends most weekends."))
    with make_service(
        gateway_url, INGEST_ENABLED=False, CONSOLIDATION_CLUSTER_SIMILARITY=0.5, COMPACTION_ENABLED=False
    ) as client:
        hikes = [
            "The user went hiking in the Alps on Saturday.",
            "The user hiked in the Alps with friends last weekend.",
            "The user plans another hiking weekend in the Alps.",
        ]
        items = [{"content": text, "tier": "episodic"} for text in hikes]
        items += [{"content": "The quarterly tax return was filed.", "tier": "episodic"}]
        items += [{"content": "The staging database runs PostgreSQL 16.", "tier": "semantic"}] * 2
        stored = client.post(f"{BASE}/bulk", json={"items": items}).json()
        assert all(m["embedded"] for m in stored)

        run = client.post(f"{BASE}/consolidate").json()

        assert run["error"] is None
        assert run["merged"] == 1
        assert (run["summarised_clusters"], run["summaries_created"]) == (1, 1)
        [summary] = [m for m in browse(client, tier="semantic") if m["metadata"].get("kind") == "summary"]
        assert summary["content"] == "The user goes hiking in the Alps with friends most weekends."
        members = run_sql("SELECT member_id::text FROM memory_links WHERE summary_id = $1", summary["id"])
        assert {r["member_id"] for r in members} == {m["id"] for m in stored[:3]}
        log = client.get(f"{BASE}/consolidation-log").json()
        assert log["total"] == 1 and log["items"][0]["id"] == run["id"]
        # A second run finds nothing new to summarise.
        again = client.post(f"{BASE}/consolidate").json()
        assert (again["merged"], again["summaries_created"]) == (0, 0)


def test_consolidation_decays_the_importance_of_memories_nobody_read_for_a_month(
    make_service: ServiceFactory, gateway_url: str, run_sql: Callable[..., list[Any]]
) -> None:
    with make_service(gateway_url, INGEST_ENABLED=False, COMPACTION_ENABLED=False) as client:
        old, fresh = client.post(
            f"{BASE}/bulk",
            json={
                "items": [
                    {"content": "The office moved to the third floor.", "tier": "semantic"},
                    {"content": "The team lunch is on Thursday.", "tier": "semantic"},
                ]
            },
        ).json()
        run_sql("UPDATE memories SET created_at = now() - interval '60 days' WHERE id = $1", old["id"])

        run = client.post(f"{BASE}/consolidate").json()

        assert run["decayed"] == 1
        assert client.get(f"{BASE}/{old['id']}").json()["importance"] == pytest.approx(0.45)
        assert client.get(f"{BASE}/{fresh['id']}").json()["importance"] == 0.5


def test_a_claim_from_a_less_trusted_source_waits_for_review_until_consolidation_resolves_it(
    service: TestClient, fake_model: FakeOpenAI, run_sql: Callable[..., list[Any]], wait_until: Any
) -> None:
    porto = service.post(
        f"{BASE}/facts",
        json={
            "project_id": "nova",
            "category": "user",
            "key": "lives_in",
            "content": "The user lives in Porto.",
        },
    ).json()["memory"]
    fake_model.script.push(LISBON)

    item_id = ingest(
        service, "Someone on a forum says the user lives in Lisbon.", source={"kind": "feed", "trust": 0.2}
    )
    wait_until(lambda: formed(run_sql, item_id))

    assert service.get(f"{BASE}/{porto['id']}").json()["content"] == "The user lives in Porto."
    [pending] = service.get(f"{BASE}/contradictions", params={"state": "pending"}).json()["items"]
    assert pending["new_content"] == "The user lives in Lisbon."
    # The belief loses confidence (say the user doubted it); the next consolidation applies the claim.
    service.patch(f"{BASE}/{porto['id']}", json={"confidence": 0.3})
    run = service.post(f"{BASE}/consolidate").json()
    assert run["contradictions_resolved"] == 1
    assert service.get(f"{BASE}/{porto['id']}").json()["content"] == "The user lives in Lisbon."
    [resolved] = service.get(f"{BASE}/contradictions").json()["items"]
    assert resolved["state"] == "resolved"


def test_a_correction_in_plain_words_fixes_the_profile_as_a_trusted_source(
    service: TestClient, fake_model: FakeOpenAI
) -> None:
    service.post(
        f"{BASE}/facts",
        json={
            "project_id": "nova",
            "category": "user",
            "key": "lives_in",
            "content": "The user lives in Porto.",
        },
    )
    fake_model.script.push(LISBON)

    result = service.post(f"{BASE}/profile/correct", json={"correction": "I live in Lisbon now, not Porto."})

    assert result.status_code == 200, result.text
    assert len(result.json()["superseded"]) == 1
    profile = service.get(f"{BASE}/profile", params={"owner": "admin"}).json()
    [fact] = profile["facts"]
    assert fact["content"] == "The user lives in Lisbon."
    assert fact["source"]["kind"] == "correction" and fact["source"]["trust"] == 1.0
    assert service.get(f"{BASE}/profile", params={"owner": "local"}).json()["facts"] == []


def test_an_owners_ingested_memories_stay_that_owners(
    service: TestClient, fake_model: FakeOpenAI, run_sql: Callable[..., list[Any]], wait_until: Any
) -> None:
    fake_model.script.push(LISBON)
    owner = "key:0b7e3f0e-5f0c-4c1e-9a4e-2f1d9c3b8a71"

    item_id = ingest(service, owner=owner)
    wait_until(lambda: formed(run_sql, item_id))

    assert {m["owner"] for m in browse(service)} == {owner}
    assert [
        f["attribute"] for f in service.get(f"{BASE}/profile", params={"owner": owner}).json()["facts"]
    ] == ["lives_in"]
    assert service.get(f"{BASE}/profile").json()["facts"] == []
    assert service.get(f"{BASE}/sources", params={"owner": owner}).json()["total"] == 1
    assert service.get(f"{BASE}/sources", params={"owner": "admin"}).json()["total"] == 0


# A process killed with SIGKILL while it forms an item loses nothing: the item waits in the consumer's
# processing list, and once its heartbeat has expired another process re-queues and forms it once.
HEADERS = {"X-Service-Token": "test-service-token-0123456789"}
PROCESSING_PATTERN = "nova:memory:ingest:processing:*"


def in_processing(queue: redis.Redis) -> int:
    return sum(int(queue.llen(key)) for key in queue.scan_iter(PROCESSING_PATTERN))


def test_a_worker_killed_with_sigkill_mid_ingestion_loses_nothing(
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
    # The first extraction hangs long enough to kill the process in the middle of it.
    fake_model.script.push(Reply(content=LISBON.content, delay=60), LISBON)
    env = {
        **nova_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_base_url,
        "LLM_GATEWAY_URL": gateway_url,
        "CONSOLIDATION_ENABLED": "false",
        "COMPACTION_ENABLED": "false",
        "INGEST_CONSUMER_TTL_SECONDS": "2",
    }
    queue = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    log_path = tmp_path / "memory-service.log"
    try:
        with memory_process(env, log_path) as (url, process):
            response = httpx.post(
                f"{url}/api/v1/memories/ingest",
                json={"content": TURN, "source": {"kind": "chat"}},
                headers=HEADERS,
            )
            assert response.status_code == 202, response.text
            item_id = response.json()["id"]
            wait_until(lambda: len(fake_model.script.requests) == 1 and in_processing(queue) == 1)
            process.kill()
            process.wait(timeout=15)

        assert in_processing(queue) == 1
        assert run_sql("SELECT item_id FROM ingestions") == []

        with memory_process(env, log_path) as (url, _):
            wait_until(lambda: run_sql("SELECT 1 FROM ingestions WHERE source_id IS NOT NULL"))
            depth = httpx.get(f"{url}/api/v1/memories/ingest/queue", headers=HEADERS).json()
            assert depth == {"queued": 0, "processing": 0, "dead_letters": 0}
        [formed] = run_sql("SELECT item_id::text FROM ingestions")
        assert formed["item_id"] == item_id
        facts = run_sql("SELECT content FROM memories WHERE key = 'lives_in'")
        assert [f["content"] for f in facts] == ["The user lives in Lisbon."]
    finally:
        queue.close()
