"""POST /api/v1/memories/facts: upsert on (project_id, category, key), confidence, history; ACT-R decay."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

FACTS = "/api/v1/memories/facts"
REGION = {"project_id": "nova", "category": "infra", "key": "region"}


def upsert(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post(FACTS, json=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_first_upsert_creates_a_semantic_fact(service: TestClient) -> None:
    result = upsert(service, **REGION, value="eu-west-1", confidence=0.7)

    assert result["created"] is True
    assert result["history_length"] == 0
    memory = result["memory"]
    assert (memory["tier"], memory["content"], memory["confidence"]) == ("semantic", "eu-west-1", 0.7)
    assert memory["embedded"] is True


def test_second_upsert_replaces_the_value_and_keeps_the_old_one_in_history(service: TestClient) -> None:
    first = upsert(service, **REGION, value="eu-west-1", confidence=0.9)
    second = upsert(service, **REGION, value="us-east-1", confidence=0.6)

    assert second["created"] is False
    assert second["memory"]["id"] == first["memory"]["id"]
    assert second["previous_content"] == "eu-west-1"
    assert second["history_length"] == 1
    assert (second["memory"]["content"], second["memory"]["confidence"]) == ("us-east-1", 0.6)
    history = service.get(f"/api/v1/memories/{first['memory']['id']}/history").json()
    assert [(r["content"], r["confidence"]) for r in history["revisions"]] == [("eu-west-1", 0.9)]


def test_reasserting_the_same_value_adds_no_history(service: TestClient) -> None:
    upsert(service, **REGION, value="eu-west-1")
    again = upsert(service, **REGION, value="eu-west-1")

    assert (again["created"], again["previous_content"], again["history_length"]) == (False, None, 0)


@pytest.mark.parametrize(("delta", "expected"), [(0.2, 0.7), (-0.3, 0.2), (0.9, 1.0), (-0.9, 0.0)])
def test_confidence_delta_nudges_an_existing_fact_within_bounds(
    service: TestClient, delta: float, expected: float
) -> None:
    upsert(service, **REGION, value="eu-west-1", confidence=0.5)

    result = upsert(service, **REGION, value="eu-west-1", confidence_delta=delta)

    assert result["memory"]["confidence"] == pytest.approx(expected)


def test_upsert_without_confidence_keeps_the_existing_one(service: TestClient) -> None:
    upsert(service, **REGION, value="eu-west-1", confidence=0.4)

    assert upsert(service, **REGION, value="eu-central-1")["memory"]["confidence"] == 0.4


def test_upsert_merges_metadata(service: TestClient) -> None:
    upsert(service, **REGION, value="eu-west-1", metadata={"source": "chat", "turn": 1})

    result = upsert(service, **REGION, value="eu-west-1", metadata={"turn": 2})

    assert result["memory"]["metadata"] == {"source": "chat", "turn": 2}


def test_the_same_key_in_another_project_is_another_fact(service: TestClient) -> None:
    a = upsert(service, **REGION, value="eu-west-1")
    b = upsert(service, **{**REGION, "project_id": "other"}, value="ap-south-1")

    assert b["created"] is True and a["memory"]["id"] != b["memory"]["id"]


def test_storing_a_second_fact_with_a_taken_key_is_a_conflict(service: TestClient) -> None:
    upsert(service, **REGION, value="eu-west-1")

    response = service.post("/api/v1/memories", json={"content": "us-east-1", "tier": "semantic", **REGION})

    assert response.status_code == 409
    assert "POST /facts" in response.json()["detail"]


def test_patching_a_fact_onto_a_taken_key_is_a_conflict(service: TestClient) -> None:
    upsert(service, **REGION, value="eu-west-1")
    other = upsert(service, **{**REGION, "key": "zone"}, value="b")

    response = service.patch(f"/api/v1/memories/{other['memory']['id']}", json={"key": "region"})

    assert response.status_code == 409


def _last_access(run_sql: Any, memory_id: str, days_ago: float) -> None:
    run_sql(
        "INSERT INTO memory_access (memory_id, access_count, last_accessed_at) "
        "VALUES ($1::uuid, 1, now() - make_interval(secs => $2)) "
        "ON CONFLICT (memory_id) DO UPDATE SET last_accessed_at = EXCLUDED.last_accessed_at",
        memory_id,
        days_ago * 86_400,
    )


def test_a_fact_not_accessed_for_days_ranks_below_a_fresh_one(service: TestClient, run_sql: Any) -> None:
    stale = upsert(
        service, project_id="p", category="wifi", key="office", value="The office wifi password is hunter2"
    )
    fresh = upsert(
        service, project_id="p", category="wifi", key="lab", value="The office wifi password is hunter2"
    )
    _last_access(run_sql, stale["memory"]["id"], days_ago=100)

    hits = service.post("/api/v1/memories/search", json={"query": "office wifi password"}).json()["hits"]

    assert [h["memory"]["id"] for h in hits[:2]] == [fresh["memory"]["id"], stale["memory"]["id"]]
    assert hits[1]["memory"]["effective_confidence"] == pytest.approx(0.1, rel=1e-3)
    assert hits[1]["score"] < hits[0]["score"] * 0.2


def test_decay_outweighs_a_higher_base_confidence_once_old_enough(service: TestClient, run_sql: Any) -> None:
    old_sure = upsert(
        service, project_id="p", category="c", key="a", value="The VPN gateway is vpn1", confidence=1.0
    )
    new_unsure = upsert(
        service, project_id="p", category="c", key="b", value="The VPN gateway is vpn1", confidence=0.5
    )
    _last_access(run_sql, old_sure["memory"]["id"], days_ago=16)  # 1.0 * 16^-0.5 = 0.25 < 0.5

    hits = service.post("/api/v1/memories/search", json={"query": "VPN gateway"}).json()["hits"]

    assert [h["memory"]["id"] for h in hits[:2]] == [new_unsure["memory"]["id"], old_sure["memory"]["id"]]


def test_access_refreshes_a_decayed_fact(service: TestClient, run_sql: Any) -> None:
    fact = upsert(service, **REGION, value="eu-west-1")["memory"]
    _last_access(run_sql, fact["id"], days_ago=25)

    found = service.get(f"/api/v1/memories/{fact['id']}").json()
    again = service.get(f"/api/v1/memories/{fact['id']}").json()

    assert found["effective_confidence"] == pytest.approx(0.2, rel=1e-3)
    assert again["effective_confidence"] == 1.0


def test_only_facts_decay(service: TestClient, run_sql: Any) -> None:
    event = service.post("/api/v1/memories", json={"content": "We shipped 1.0", "confidence": 0.8}).json()
    _last_access(run_sql, event["id"], days_ago=100)

    assert service.get(f"/api/v1/memories/{event['id']}").json()["effective_confidence"] == 0.8


def test_a_facts_history_is_paged_newest_first(service: TestClient) -> None:
    fact = {"project_id": "nova", "category": "deploy", "key": "version"}
    for version in range(5):
        memory = service.post(FACTS, json={**fact, "value": f"1.{version}"}).json()["memory"]

    page = service.get(f"/api/v1/memories/{memory['id']}/history", params={"offset": 1, "limit": 2}).json()

    assert [r["content"] for r in page["revisions"]] == ["1.2", "1.1"]
    too_large = service.get(f"/api/v1/memories/{memory['id']}/history", params={"limit": 201})
    assert too_large.status_code == 422
