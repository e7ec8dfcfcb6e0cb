"""POST /api/v1/memories/{agent_id}/context: facts first, deduplicated, within an exact token budget."""

import asyncio
import secrets
from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from memory_service.context.tokens import count_tokens

MEMORIES = "/api/v1/memories"


def context(client: TestClient, agent_id: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"{MEMORIES}/{agent_id}/context", json=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seed(client: TestClient) -> None:
    client.post(
        f"{MEMORIES}/facts",
        json={
            "project_id": "nova",
            "category": "infra",
            "key": "db",
            "value": "The database host is db-7",
            "confidence": 0.8,
        },
    )
    items = [
        {"content": "We moved the database to db-7 after the outage", "agent_id": "agent-1"},
        {"content": "Restart the database with systemctl restart postgresql", "tier": "procedural"},
        {"content": "Agent two's private note about the database", "agent_id": "agent-2"},
    ]
    assert client.post(f"{MEMORIES}/bulk", json={"items": items}).status_code == 201


def test_context_puts_facts_first_with_their_confidence(service: TestClient) -> None:
    seed(service)

    result = context(service, "agent-1", query="where is the database?")

    lines = result["context"].splitlines()
    assert lines[0] == "Facts:"
    assert "(confidence 0.80) The database host is db-7" in lines[1]
    assert "Memories:" in lines
    assert result["items"][0]["tier"] == "semantic" and result["items"][0]["confidence"] == 0.8
    assert all(str(item["id"]) in result["context"] for item in result["items"])


def test_context_reports_the_exact_token_count(service: TestClient) -> None:
    seed(service)

    result = context(service, "agent-1", query="database")

    assert result["items"] and "We moved the database to db-7" in result["context"]
    assert result["total_tokens"] == count_tokens(result["context"]) > 0


def test_context_holds_an_agents_own_and_shared_memories_only(service: TestClient) -> None:
    seed(service)

    result = context(service, "agent-1", query="database")

    assert "private note" not in result["context"]
    assert "We moved the database to db-7" in result["context"]
    assert "systemctl restart postgresql" in result["context"]


def test_context_stays_within_the_budget_and_says_when_it_cut(service: TestClient) -> None:
    items = [
        {"content": f"Deployment note {i}: the rollout of service {i} went fine " * 3} for i in range(20)
    ]
    service.post(f"{MEMORIES}/bulk", json={"items": items})

    result = context(service, "agent-1", query="deployment rollout", token_budget=120)

    assert 0 < result["total_tokens"] <= 120
    assert result["truncated"] is True
    assert len(result["items"]) < 20


@pytest.mark.parametrize("vectors", ["in the row", "out of line"])
def test_near_duplicates_appear_once(service: TestClient, database_url: str, vectors: str) -> None:
    # A row over about 2 kB has its largest values moved out of line (TOAST). Notes that cannot be compressed,
    # smaller than the 1.5 kB vector but pushing the row over, make the vector the one that moves.
    notes = {"metadata": {"a": secrets.token_urlsafe(400), "b": secrets.token_urlsafe(400)}}
    padded = {} if vectors == "in the row" else notes
    items = [
        {"content": "The staging server restarts every night at 2am", **padded},
        {"content": "The staging server restarts every night at 2 am.", **padded},
        {"content": "Lunch is at noon"},
    ]
    assert service.post(f"{MEMORIES}/bulk", json={"items": items}).status_code == 201

    result = context(service, "agent-1", query="when does staging restart?")

    assert result["items"]
    assert sum("staging server restarts" in item["content"] for item in result["items"]) == 1
    assert _values_out_of_line(database_url) == (2 if vectors == "out of line" else 0)  # the two vectors


def _values_out_of_line(database_url: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(database_url)
        try:
            toast = await connection.fetchval(
                "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'memories'::regclass"
            )
            return int(await connection.fetchval(f"SELECT count(*) FROM {toast}"))
        finally:
            await connection.close()

    return asyncio.run(count())


def test_context_without_facts_leaves_them_out(service: TestClient) -> None:
    seed(service)

    result = context(service, "agent-1", query="database", include_facts=False)

    assert "Facts:" not in result["context"]
    assert "We moved the database to db-7" in result["context"]
    assert result["items"] and all(item["tier"] != "semantic" for item in result["items"])


def test_context_counts_its_memories_as_accessed(service: TestClient) -> None:
    seed(service)

    result = context(service, "agent-1", query="database host")

    first = result["items"][0]["id"]
    assert service.get(f"{MEMORIES}/{first}").json()["access_count"] >= 2  # the upsert, then the context
