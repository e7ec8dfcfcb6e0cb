"""Memories belong to their writer (issue 13): an owner's search, context and browse show its own
memories and the shared ones, never another owner's; only the admin shares."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

MEMORIES = "/api/v1/memories"
KEY_A = "key:0b7e3f0e-5f0c-4c1e-9a4e-2f1d9c3b8a71"
KEY_B = "key:5d1f8a43-2c6e-4b7a-8f0d-9e3c1b2a4d65"


@pytest.fixture
def admin(service: TestClient, nova_env: dict[str, str]) -> TestClient:
    """The same app, called with the admin secret (the dashboard) instead of the service token."""
    service.headers.pop("X-Service-Token")
    service.headers["X-Admin-Secret"] = nova_env["NOVA_ADMIN_SECRET"]
    return service


def store(client: TestClient, content: str, **fields: Any) -> dict[str, Any]:
    response = client.post(MEMORIES, json={"content": content, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def seed(client: TestClient) -> None:
    items = [
        {"content": "The staging database password rotates every Friday", "owner": KEY_A},
        {"content": "Key B keeps its database backups in the cold bucket", "owner": KEY_B},
        {"content": "The admin's database runbook lives in the ops wiki"},
    ]
    assert client.post(f"{MEMORIES}/bulk", json={"items": items}).status_code == 201


def contents(hits: list[dict[str, Any]]) -> set[str]:
    return {hit["memory"]["content"] for hit in hits}


@pytest.mark.parametrize("fusion", ["weighted", "rrf", "dense", "keyword"])
def test_an_owners_search_never_returns_another_owners_memory(service: TestClient, fusion: str) -> None:
    seed(service)

    body = {"query": "database", "owner": KEY_A, "fusion": fusion, "limit": 50}
    hits = service.post(f"{MEMORIES}/search", json=body).json()["hits"]

    assert contents(hits) == {"The staging database password rotates every Friday"}
    assert {hit["memory"]["owner"] for hit in hits} == {KEY_A}


def test_search_without_an_owner_is_the_admins_view_of_every_memory(service: TestClient) -> None:
    seed(service)

    hits = service.post(f"{MEMORIES}/search", json={"query": "database", "limit": 50}).json()["hits"]

    assert {hit["memory"]["owner"] for hit in hits} == {KEY_A, KEY_B, "admin"}


def test_shared_memories_reach_every_owner(admin: TestClient) -> None:
    seed(admin)
    store(admin, "Every database of the team is backed up at 02:00", shared=True)

    hits = admin.post(f"{MEMORIES}/search", json={"query": "database", "owner": KEY_B, "limit": 50}).json()[
        "hits"
    ]

    assert contents(hits) == {
        "Key B keeps its database backups in the cold bucket",
        "Every database of the team is backed up at 02:00",
    }


def test_an_owners_context_holds_its_own_and_shared_memories_only(admin: TestClient) -> None:
    seed(admin)
    store(admin, "Every database of the team is backed up at 02:00", shared=True)

    result = admin.post(f"{MEMORIES}/agent-1/context", json={"query": "database", "owner": KEY_A}).json()

    assert "password rotates every Friday" in result["context"]
    assert "backed up at 02:00" in result["context"]
    assert "cold bucket" not in result["context"]
    assert "ops wiki" not in result["context"]


def test_browse_by_owner_lists_its_own_and_shared_memories(admin: TestClient) -> None:
    seed(admin)
    store(admin, "Every database of the team is backed up at 02:00", shared=True)

    page = admin.get(f"{MEMORIES}/browse", params={"owner": KEY_B}).json()

    assert {m["content"] for m in page["items"]} == {
        "Key B keeps its database backups in the cold bucket",
        "Every database of the team is backed up at 02:00",
    }
    assert page["total"] == 2


def test_one_owners_fact_never_supersedes_anothers(service: TestClient) -> None:
    fact = {"project_id": "home", "category": "profile", "key": "city"}
    first = service.post(f"{MEMORIES}/facts", json={**fact, "value": "Porto", "owner": KEY_A}).json()
    second = service.post(f"{MEMORIES}/facts", json={**fact, "value": "Lisbon", "owner": KEY_B}).json()

    assert first["created"] is True and second["created"] is True
    assert first["memory"]["id"] != second["memory"]["id"]
    again = service.post(f"{MEMORIES}/facts", json={**fact, "value": "Braga", "owner": KEY_A}).json()
    assert (again["created"], again["previous_content"]) == (False, "Porto")
    assert service.get(f"{MEMORIES}/{second['memory']['id']}").json()["content"] == "Lisbon"


def test_the_service_token_cannot_share_a_keys_memory(service: TestClient) -> None:
    response = service.post(MEMORIES, json={"content": "mine for everyone", "owner": KEY_A, "shared": True})

    assert response.status_code == 403
    assert "shared" in response.json()["detail"]


def test_only_the_admin_marks_a_keys_memory_shared(service: TestClient, nova_env: dict[str, str]) -> None:
    memory = store(service, "Key A's tip: the build cache lives on the fast disk", owner=KEY_A)

    refused = service.patch(f"{MEMORIES}/{memory['id']}", json={"shared": True})
    assert refused.status_code == 403

    service.headers.pop("X-Service-Token")
    service.headers["X-Admin-Secret"] = nova_env["NOVA_ADMIN_SECRET"]
    shared = service.patch(f"{MEMORIES}/{memory['id']}", json={"shared": True})
    assert shared.status_code == 200
    assert (shared.json()["owner"], shared.json()["shared"]) == (KEY_A, True)


def test_an_owner_that_is_not_admin_local_or_a_key_id_is_422(service: TestClient) -> None:
    response = service.post(MEMORIES, json={"content": "x", "owner": "key:alice"})

    assert response.status_code == 422
    assert "owner" in response.text
