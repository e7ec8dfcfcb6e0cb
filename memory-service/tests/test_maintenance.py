"""Background maintenance: working-memory expiry, compaction of near-duplicates, loops that survive errors."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from memory_service.maintenance.runner import PeriodicTask

MEMORIES = "/api/v1/memories"


def maintenance(client: Any) -> dict[str, Any]:
    details: dict[str, Any] = client.get("/health/ready").json()["details"]["maintenance"]
    return details


def test_expired_working_memory_is_deleted_and_the_run_reported(
    make_service: Any, gateway_url: str, run_sql: Any, wait_until: Any
) -> None:
    with make_service(gateway_url, EXPIRY_INTERVAL_SECONDS=0.2) as client:
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        expired = client.post(
            MEMORIES, json={"content": "old scratch", "tier": "working", "expires_at": past}
        ).json()
        live = client.post(MEMORIES, json={"content": "fresh scratch", "tier": "working"}).json()

        wait_until(lambda: not run_sql("SELECT 1 FROM memories WHERE id = $1::uuid", expired["id"]))

        assert run_sql("SELECT 1 FROM memories WHERE id = $1::uuid", live["id"])
        report = wait_until(lambda: maintenance(client)["working_memory_expiry"])
        assert report["last_run_at"] is not None and report["last_error"] is None
        assert report["interval_seconds"] == 0.2


def test_compaction_merges_near_duplicates_into_the_most_confident(
    make_service: Any, gateway_url: str, wait_until: Any
) -> None:
    with make_service(gateway_url, COMPACTION_INTERVAL_SECONDS=0.2) as client:
        items = [
            {
                "content": "The staging database password rotates every Monday.",
                "confidence": 0.6,
                "metadata": {"source": "chat", "turn": 3},
            },
            {
                "content": "The staging database password rotates every Monday",
                "confidence": 0.9,
                "metadata": {"source": "wiki", "page": "ops"},
            },
            {"content": "Bananas are rich in potassium", "confidence": 0.9},
        ]
        stored = client.post(f"{MEMORIES}/bulk", json={"items": items}).json()
        less_sure, sure, unrelated = (m["id"] for m in stored)

        wait_until(lambda: client.get(f"{MEMORIES}/{less_sure}").status_code == 404)

        kept = client.get(f"{MEMORIES}/{sure}").json()
        assert kept["metadata"] == {"source": "wiki", "page": "ops", "turn": 3}
        assert client.get(f"{MEMORIES}/{unrelated}").status_code == 200
        merges = client.get(f"{MEMORIES}/{sure}/history").json()["merges"]
        assert [(m["merged_id"], m["content"]) for m in merges] == [
            (less_sure, "The staging database password rotates every Monday.")
        ]
        assert merges[0]["similarity"] >= 0.95
        assert maintenance(client)["compaction"]["runs"] >= 2


def test_compaction_leaves_distinct_facts_alone(make_service: Any, gateway_url: str, wait_until: Any) -> None:
    with make_service(gateway_url, COMPACTION_INTERVAL_SECONDS=0.2) as client:
        for key in ("a", "b"):
            client.post(
                f"{MEMORIES}/facts",
                json={"project_id": "p", "category": "c", "key": key, "value": "The cache TTL is one hour"},
            )
        runs = maintenance(client)["compaction"]["runs"]
        wait_until(lambda: maintenance(client)["compaction"]["runs"] >= runs + 2)

        assert client.get(f"{MEMORIES}/browse", params={"tier": "semantic"}).json()["total"] == 2


async def test_a_failing_run_is_recorded_and_the_loop_keeps_going() -> None:
    calls = 0

    async def flaky() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return {"done": calls}

    task = PeriodicTask("flaky", 0.01, flaky)
    task.start()
    try:
        for _ in range(500):
            if task.status.runs >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        await task.stop()

    details = task.details()
    assert details["failures"] == 1
    assert details["runs"] >= 3
    assert details["last_error"] is None and details["last_result"]["done"] >= 2


def test_compaction_can_be_switched_off(make_service: Any, gateway_url: str) -> None:
    with make_service(gateway_url, COMPACTION_ENABLED=False) as client:
        loops = maintenance(client)

    assert "compaction" not in loops
    assert {"embedding_backlog", "working_memory_expiry", "keyword_statistics"} <= loops.keys()
