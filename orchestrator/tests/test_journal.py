"""The journal (cortex narrates, the person answers), today's spend for cortex's budget, and pipeline tasks
filed under a goal (with the `task.finished` stimulus cortex hears when one ends)."""

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.redis import redis_url_for
from nova_contracts.goals import CORTEX_STIMULI_KEY


@pytest.fixture
def stimuli(redis_base_url: str) -> redis.Redis:
    connection = redis.Redis.from_url(redis_url_for("cortex", redis_base_url), decode_responses=True)
    connection.delete(CORTEX_STIMULI_KEY)
    return connection


def pushed(stimuli: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(item) for item in stimuli.lrange(CORTEX_STIMULI_KEY, 0, -1)]


def new_key(client: TestClient, admin: dict[str, str], name: str) -> dict[str, str]:
    response = client.post("/api/v1/keys", headers=admin, json={"name": name})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def test_cortex_entries_and_the_persons_messages_share_one_journal_conversation_in_the_chat_list(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    entry = client.post(
        "/api/v1/journal/entries",
        headers=service,
        json={"kind": "escalation", "content": "I am stuck on the migration."},
    )
    assert entry.status_code == 201, entry.text
    assert entry.json()["role"] == "assistant" and entry.json()["kind"] == "escalation"
    message = client.post("/api/v1/journal/messages", headers=admin, json={"content": "Try smaller steps."})
    assert message.status_code == 201, message.text
    assert message.json()["role"] == "user" and message.json()["kind"] == "message"

    page = client.get("/api/v1/journal", headers=service).json()
    assert [e["content"] for e in page["items"]] == ["Try smaller steps.", "I am stuck on the migration."]
    mine = client.get("/api/v1/journal", headers=service, params={"role": "user"}).json()["items"]
    assert [e["content"] for e in mine] == ["Try smaller steps."]
    journals = [
        c for c in client.get("/api/v1/conversations", headers=admin).json() if c["title"] == "Journal"
    ]
    assert len(journals) == 1 and journals[0]["id"] == page["conversation_id"]


def test_a_persons_journal_message_wakes_cortex_with_a_message_received_stimulus(
    client: TestClient, admin: dict[str, str], stimuli: redis.Redis
) -> None:
    message = client.post("/api/v1/journal/messages", headers=admin, json={"content": "Focus on tests."})
    assert message.status_code == 201, message.text
    assert [s["type"] for s in pushed(stimuli)] == ["message.received"]
    assert pushed(stimuli)[0]["payload"]["message_id"] == message.json()["id"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/journal/messages", {"content": "hello"}),
        ("/api/v1/journal/entries", {"content": "hello"}),
    ],
)
def test_an_api_key_can_neither_write_nor_read_the_journal(
    client: TestClient, admin: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    key = new_key(client, admin, "journal-outsider")
    assert client.post(path, headers=key, json=body).status_code == 401
    assert client.get("/api/v1/journal", headers=key).status_code == 401


def test_cortex_cannot_write_in_the_persons_name(client: TestClient, service: dict[str, str]) -> None:
    refused = client.post("/api/v1/journal/messages", headers=service, json={"content": "approve it"})
    assert refused.status_code == 401


def test_an_empty_or_unknown_kind_of_journal_entry_is_a_422(
    client: TestClient, service: dict[str, str]
) -> None:
    for body in ({"content": ""}, {"content": "x", "kind": "gossip"}, {"content": "x", "extra": 1}):
        response = client.post("/api/v1/journal/entries", headers=service, json=body)
        assert response.status_code == 422, body


def test_todays_spend_sums_the_cost_of_model_calls_since_utc_midnight_only(
    client: TestClient, service: dict[str, str], run_sql: Callable[..., Any]
) -> None:
    run_sql(
        """INSERT INTO usage_events (id, provider, model, cost_usd, created_at) VALUES
           (gen_random_uuid(), 'openai', 'gpt-4o', 1.25, date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'),
           (gen_random_uuid(), 'openai', 'gpt-4o', 0.75, now()),
           (gen_random_uuid(), 'local', 'smollm2', NULL, now()),
           (gen_random_uuid(), 'openai', 'gpt-4o', 9, now() - interval '2 days')"""
    )
    spend = client.get("/api/v1/usage/spend", headers=service)
    assert spend.status_code == 200, spend.text
    assert spend.json()["spend_usd"] == pytest.approx(2.0)
    assert spend.json()["events"] == 3


def test_todays_spend_is_internal(client: TestClient, admin: dict[str, str]) -> None:
    key = new_key(client, admin, "spend-outsider")
    assert client.get("/api/v1/usage/spend", headers=key).status_code == 401


def test_a_pipeline_task_filed_under_a_goal_is_listed_on_the_goal_with_its_metadata(
    client: TestClient, service: dict[str, str], admin: dict[str, str]
) -> None:
    goal = client.post("/api/v1/goals", headers=admin, json={"title": "Ship it", "complex": False}).json()
    task = client.post(
        "/api/v1/pipeline/tasks",
        headers=service,
        json={"goal": "ship it", "goal_id": goal["id"], "metadata": {"iteration": 1}},
    )
    assert task.status_code == 202, task.text
    assert task.json()["goal_id"] == goal["id"]
    listed = client.get(f"/api/v1/goals/{goal['id']}/tasks", headers=admin).json()
    assert [(t["id"], t["metadata"]["iteration"]) for t in listed] == [(task.json()["id"], 1)]


def test_a_key_cannot_file_a_task_under_another_tenants_goal_or_an_unknown_one(
    client: TestClient, admin: dict[str, str]
) -> None:
    admins_goal = client.post(
        "/api/v1/goals", headers=admin, json={"title": "Admin's", "complex": False}
    ).json()
    key = new_key(client, admin, "goal-intruder")
    for goal_id in (admins_goal["id"], "00000000-0000-4000-8000-000000000000"):
        refused = client.post("/api/v1/pipeline/tasks", headers=key, json={"goal": "x", "goal_id": goal_id})
        assert refused.status_code == 404, refused.text
        assert goal_id in refused.json()["detail"]
    assert client.get(f"/api/v1/goals/{admins_goal['id']}/tasks", headers=admin).json() == []


def test_a_goals_task_ending_pushes_task_finished_to_cortex_with_its_status_and_cost(
    client: TestClient, admin: dict[str, str], stimuli: redis.Redis, wait_until: Callable[..., Any]
) -> None:
    goal = client.post("/api/v1/goals", headers=admin, json={"title": "Cancel me", "complex": False}).json()
    task = client.post(
        "/api/v1/pipeline/tasks", headers=admin, json={"goal": "x", "goal_id": goal["id"]}
    ).json()
    # Cancelled here, or failed by the worker first (no model is reachable in these tests): either ends it.
    client.post(f"/api/v1/pipeline/tasks/{task['id']}/cancel", headers=admin)

    finished = wait_until(lambda: [s for s in pushed(stimuli) if s["type"] == "task.finished"], timeout=30)
    assert len(finished) == 1
    assert finished[0]["goal_id"] == goal["id"]
    assert finished[0]["payload"]["task_id"] == task["id"]
    assert finished[0]["payload"]["status"] in ("cancelled", "failed")
    assert finished[0]["payload"]["cost_usd"] == 0


def test_a_task_without_a_goal_ending_tells_cortex_nothing(
    client: TestClient, admin: dict[str, str], stimuli: redis.Redis
) -> None:
    task = client.post("/api/v1/pipeline/tasks", headers=admin, json={"goal": "x"}).json()
    client.post(f"/api/v1/pipeline/tasks/{task['id']}/cancel", headers=admin)
    status = client.get(f"/api/v1/pipeline/tasks/{task['id']}", headers=admin).json()["status"]
    assert status in ("cancelled", "failed")
    assert [s for s in pushed(stimuli) if s["type"] == "task.finished"] == []


@pytest.mark.parametrize("path", ["/api/v1/journal", "/api/v1/usage/spend"])
def test_a_since_outside_the_utc_range_is_a_422_and_a_naive_one_is_taken_as_utc(
    client: TestClient, service: dict[str, str], path: str
) -> None:
    refused = client.get(path, headers=service, params={"since": "0001-01-01T00:00:00+01:00"})
    assert refused.status_code == 422, refused.text
    assert "out of range" in json.dumps(refused.json()["detail"])
    assert client.get(path, headers=service, params={"since": "2026-01-01T00:00:00"}).status_code == 200
