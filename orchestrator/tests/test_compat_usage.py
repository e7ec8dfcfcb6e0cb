"""`POST /api/v1/usage/events`: services that call models outside llm-gateway report usage (issue 20)."""

import uuid

from fastapi.testclient import TestClient

EVENT = {
    "provider": "deepgram",
    "model": "nova-2",
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": 0.0043,
    "latency_ms": 850,
    "agent_id": "voice",
}


def test_a_reported_usage_event_is_listed_and_counted_once_per_id(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    event_id = str(uuid.uuid4())
    first = client.post("/api/v1/usage/events", json={**EVENT, "id": event_id}, headers=service)
    assert first.status_code == 201, first.text
    assert first.json() == {"id": event_id, "recorded": True}
    again = client.post("/api/v1/usage/events", json={**EVENT, "id": event_id}, headers=service)
    assert again.status_code == 201 and again.json()["recorded"] is False

    listed = client.get("/api/v1/usage?model=nova-2", headers=admin).json()
    assert [(e["id"], e["provider"], e["cost_usd"], e["agent_id"]) for e in listed] == [
        (event_id, "deepgram", 0.0043, "voice")
    ]
    summary = client.get("/api/v1/usage/summary", headers=admin).json()
    assert any(m["model"] == "nova-2" and m["requests"] == 1 for m in summary["by_model"])


def test_reporting_usage_needs_the_service_token_and_valid_fields(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    assert client.post("/api/v1/usage/events", json=EVENT).status_code == 401
    raw_key = client.post("/api/v1/keys", json={"name": "reporter"}, headers=admin).json()["key"]
    as_key = client.post("/api/v1/usage/events", json=EVENT, headers={"Authorization": f"Bearer {raw_key}"})
    assert as_key.status_code == 401
    negative = client.post("/api/v1/usage/events", json={**EVENT, "cost_usd": -1}, headers=service)
    assert negative.status_code == 422 and "cost_usd" in negative.text
    naive = client.post(
        "/api/v1/usage/events", json={**EVENT, "created_at": "2026-01-01T10:00:00"}, headers=service
    )
    assert naive.status_code == 422 and "created_at" in naive.text
