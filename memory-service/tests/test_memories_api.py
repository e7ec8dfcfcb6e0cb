"""The CRUD side of /api/v1/memories: store, bulk, get, patch, delete, browse; auth and bad input."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

MEMORIES = "/api/v1/memories"


def store(client: TestClient, content: str, **fields: Any) -> dict[str, Any]:
    response = client.post(MEMORIES, json={"content": content, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_stored_memory_is_embedded_with_the_gateway_model(service: TestClient) -> None:
    memory = store(
        service, "Ana prefers green tea in the afternoon", agent_id="agent-1", metadata={"source": "chat"}
    )

    assert memory["embedded"] is True
    assert (memory["embedding_model"], memory["embedding_dim"]) == ("all-MiniLM-L6-v2", 384)
    assert memory["tier"] == "episodic"
    assert memory["metadata"] == {"source": "chat"}


def test_bulk_store_returns_the_memories_in_request_order(service: TestClient) -> None:
    items = [{"content": f"note number {i}", "tier": "procedural"} for i in range(5)]

    response = service.post(f"{MEMORIES}/bulk", json={"items": items})

    assert response.status_code == 201
    assert [m["content"] for m in response.json()] == [f"note number {i}" for i in range(5)]
    assert all(m["embedded"] for m in response.json())


def test_working_memory_gets_the_default_lifetime(service: TestClient) -> None:
    memory = store(service, "scratch: compare two plans", tier="working")

    expires_at = datetime.fromisoformat(memory["expires_at"])
    assert timedelta(minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=1)


def test_reading_a_memory_counts_as_an_access(service: TestClient) -> None:
    memory = store(service, "The build server is called hal")

    service.get(f"{MEMORIES}/{memory['id']}")
    second = service.get(f"{MEMORIES}/{memory['id']}").json()

    assert second["access_count"] == 1
    assert second["last_accessed_at"] is not None


def test_unknown_memory_is_404(service: TestClient) -> None:
    response = service.get(f"{MEMORIES}/6f1c1c59-64f2-4f6e-8d5e-8e3c2a9e1b00")

    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


def test_patching_content_re_embeds_it(service: TestClient, run_sql: Any) -> None:
    memory = store(service, "The cat sleeps on the sofa")
    before = run_sql(
        "SELECT embedding::text AS v, content_hash FROM memories WHERE id = $1::uuid", memory["id"]
    )[0]

    response = service.patch(
        f"{MEMORIES}/{memory['id']}", json={"content": "Quarterly revenue grew by 12 percent"}
    )

    assert response.status_code == 200
    assert response.json()["content"] == "Quarterly revenue grew by 12 percent"
    assert response.json()["embedded"] is True
    after = run_sql(
        "SELECT embedding::text AS v, content_hash FROM memories WHERE id = $1::uuid", memory["id"]
    )[0]
    assert after["v"] != before["v"] and after["content_hash"] != before["content_hash"]
    hits = service.post(
        f"{MEMORIES}/search", json={"query": "how much did sales increase", "fusion": "dense"}
    ).json()
    assert hits["hits"][0]["memory"]["id"] == memory["id"]


def test_patch_that_changes_only_metadata_keeps_the_vector(service: TestClient, run_sql: Any) -> None:
    memory = store(service, "Deploys happen on Thursdays")
    before = run_sql("SELECT embedded_at FROM memories WHERE id = $1::uuid", memory["id"])[0]["embedded_at"]

    patched = service.patch(
        f"{MEMORIES}/{memory['id']}", json={"metadata": {"team": "infra"}, "confidence": 0.4}
    )

    assert patched.json()["metadata"] == {"team": "infra"} and patched.json()["confidence"] == 0.4
    assert (
        run_sql("SELECT embedded_at FROM memories WHERE id = $1::uuid", memory["id"])[0]["embedded_at"]
        == before
    )


def test_moving_a_memory_out_of_working_tier_clears_its_expiry(service: TestClient) -> None:
    memory = store(service, "keep this one", tier="working")

    patched = service.patch(f"{MEMORIES}/{memory['id']}", json={"tier": "episodic"}).json()

    assert patched["tier"] == "episodic" and patched["expires_at"] is None


def test_expiry_on_a_non_working_memory_is_rejected_naming_the_field(service: TestClient) -> None:
    memory = store(service, "a lasting memory")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    response = service.patch(f"{MEMORIES}/{memory['id']}", json={"expires_at": later})

    assert response.status_code == 400
    assert "expires_at" in response.json()["detail"]


def test_deleted_memory_is_gone(service: TestClient) -> None:
    memory = store(service, "to be forgotten")

    assert service.delete(f"{MEMORIES}/{memory['id']}").status_code == 204
    assert service.get(f"{MEMORIES}/{memory['id']}").status_code == 404
    assert service.delete(f"{MEMORIES}/{memory['id']}").status_code == 404


def test_browse_pages_filters_by_tier_and_sorts(service: TestClient) -> None:
    for i in range(5):
        store(service, f"procedure {i}", tier="procedural", confidence=i / 10)
    store(service, "an event", tier="episodic")

    first = service.get(
        f"{MEMORIES}/browse", params={"tier": "procedural", "sort": "confidence", "order": "asc", "limit": 2}
    )
    second = service.get(
        f"{MEMORIES}/browse",
        params={"tier": "procedural", "sort": "confidence", "order": "asc", "limit": 2, "offset": 2},
    )

    assert first.status_code == 200
    assert first.json()["total"] == 5
    assert [m["content"] for m in first.json()["items"]] == ["procedure 0", "procedure 1"]
    assert [m["content"] for m in second.json()["items"]] == ["procedure 2", "procedure 3"]


def test_browse_by_access_count_puts_the_most_read_first(service: TestClient) -> None:
    read = store(service, "often read")
    store(service, "never read")
    service.get(f"{MEMORIES}/{read['id']}")

    page = service.get(f"{MEMORIES}/browse", params={"sort": "access_count"}).json()

    assert page["items"][0]["id"] == read["id"]


def test_routes_refuse_callers_without_a_service_token(service: TestClient) -> None:
    del service.headers["X-Service-Token"]

    assert service.get(f"{MEMORIES}/browse").status_code == 401
    assert service.post(MEMORIES, json={"content": "x"}).status_code == 401


def test_a_wrong_service_token_is_refused(service: TestClient) -> None:
    response = service.get(f"{MEMORIES}/browse", headers={"X-Service-Token": "not-the-token-0123456789"})

    assert response.status_code == 401


def test_admin_secret_is_accepted_for_the_dashboard(service: TestClient, nova_env: dict[str, str]) -> None:
    del service.headers["X-Service-Token"]

    response = service.get(f"{MEMORIES}/browse", headers={"X-Admin-Secret": nova_env["NOVA_ADMIN_SECRET"]})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("post", "", {"content": ""}, "content"),
        ("post", "", {"content": "x" * 50_001}, "content"),
        ("post", "", {"content": "x", "tier": "long_term"}, "tier"),
        ("post", "/bulk", {"items": [{"content": "ok"}, {"content": ""}]}, "content"),
        ("post", "/search", {"query": "x", "metadata": {"source": {"$ne": "chat"}}}, "metadata"),
        ("post", "/search", {"query": "x", "tiers": ["nope"]}, "tiers"),
        ("post", "/facts", {"project_id": "p", "category": "c", "key": "k"}, "content"),
        ("post", "/agent-1/context", {"query": "x", "token_budget": 10}, "token_budget"),
    ],
)
def test_malformed_input_is_422_naming_the_field(
    service: TestClient, method: str, path: str, payload: dict[str, Any], field: str
) -> None:
    response = getattr(service, method)(f"{MEMORIES}{path}", json=payload)

    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


def test_browse_with_an_unknown_tier_is_422(service: TestClient) -> None:
    response = service.get(f"{MEMORIES}/browse", params={"tier": "long_term"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "tier"]


def test_readiness_reports_postgres_redis_and_the_gateway(service: TestClient) -> None:
    report = service.get("/health/ready").json()

    assert {c["name"]: c["status"] for c in report["checks"]} == {
        "postgres": "ok",
        "redis": "ok",
        "llm-gateway": "ok",
    }
