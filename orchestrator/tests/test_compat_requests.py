"""The request and response forms of the earlier implementation's API reference are accepted beside Nova's own
(issue 20): `user_input`, `messages`, `raw_key`, `sandbox`, `POST /pods/{id}/agents`, `/embed {"text"}`."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nova_contracts.llm import EmbedRequest
from orchestrator.config import Settings
from orchestrator.main import create_app

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import ADMIN, create_pod


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """An API-only orchestrator: submitted tasks stay queued."""
    without_workers = settings.pipeline.model_copy(update={"workers_enabled": False})
    with TestClient(create_app(settings.model_copy(update={"pipeline": without_workers}))) as client:
        yield client


def _sse_events(response: Any) -> list[Any]:
    payloads = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


def test_pipeline_task_submitted_as_user_input_is_accepted_with_202_as_its_goal(api: TestClient) -> None:
    response = api.post(
        "/api/v1/pipeline/tasks", json={"user_input": "Fix the login bug in auth.py"}, headers=ADMIN
    )
    assert response.status_code == 202, response.text
    task = response.json()
    assert task["goal"] == "Fix the login bug in auth.py"
    assert api.get(f"/api/v1/pipeline/tasks/{task['id']}", headers=ADMIN).json()["goal"] == task["goal"]


def test_pipeline_task_with_both_goal_and_user_input_is_422_naming_the_extra_field(api: TestClient) -> None:
    response = api.post("/api/v1/pipeline/tasks", json={"goal": "a", "user_input": "b"}, headers=ADMIN)
    assert response.status_code == 422
    assert "user_input" in response.text


def test_chat_stream_with_the_documented_messages_list_takes_the_last_user_message_and_names_the_session(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Hello Nova"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Remember my cat Miso"},
        ],
        "model": "claude-max/claude-sonnet-4-6",
    }
    response = client.post("/api/v1/chat/stream", json=body, headers=admin)
    assert response.status_code == 200, response.text
    session_id = response.headers["X-Session-Id"]
    events = _sse_events(response)
    assert events[0]["meta"]["session_id"] == session_id
    assert events[-1] == "[DONE]"
    conversation = client.get(f"/api/v1/conversations/{events[0]['meta']['conversation_id']}", headers=admin)
    first = conversation.json()["messages"][0]
    assert (first["role"], first["content"]) == ("user", "Remember my cat Miso")


def test_chat_stream_with_neither_message_nor_a_user_message_is_422(
    client: TestClient, admin: dict[str, str]
) -> None:
    for body in ({}, {"messages": [{"role": "assistant", "content": "Hi"}]}):
        response = client.post("/api/v1/chat/stream", json=body, headers=admin)
        assert response.status_code == 422, body
        assert "message" in response.text


def test_a_created_api_key_is_answered_as_both_key_and_raw_key_and_authenticates(api: TestClient) -> None:
    response = api.post("/api/v1/keys", json={"name": "my-app", "rate_limit_rpm": 60}, headers=ADMIN)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["raw_key"] == created["key"]
    assert created["raw_key"].startswith(created["key_prefix"])
    listed = api.get("/api/v1/pods", headers={"Authorization": f"Bearer {created['raw_key']}"})
    assert listed.status_code == 200
    # The raw key is shown once: the listing has neither name.
    keys = api.get("/api/v1/keys", headers=ADMIN).json()
    assert all("key" not in k and "raw_key" not in k for k in keys)


def test_a_pod_created_with_the_documented_sandbox_and_routing_keywords_keeps_both(api: TestClient) -> None:
    body = {
        "name": "research",
        "description": "Information gathering pod",
        "routing_keywords": ["research", "investigate"],
        "sandbox": "isolated",
    }
    response = api.post("/api/v1/pods", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    pod = response.json()
    assert pod["sandbox_tier"] == "isolated"
    assert pod["routing_keywords"] == ["research", "investigate"]
    changed = api.patch(f"/api/v1/pods/{pod['id']}", json={"sandbox": "workspace"}, headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["sandbox_tier"] == "workspace"


def test_an_agent_added_through_pods_agents_joins_the_pod_and_can_be_removed(api: TestClient) -> None:
    pod = create_pod(api, "Adders", [{"name": "first", "role": "passthrough"}])
    agent = {"name": "researcher", "role": "task", "model": "claude-max/claude-sonnet-4-6", "position": 1}

    response = api.post(f"/api/v1/pods/{pod['id']}/agents", json=agent, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "researcher" and response.json()["model"] == agent["model"]
    listed = api.get(f"/api/v1/pods/{pod['id']}/agents", headers=ADMIN).json()
    assert [a["name"] for a in listed] == ["first", "researcher"]
    assert [a["name"] for a in api.get(f"/api/v1/pods/{pod['id']}", headers=ADMIN).json()["agents"]] == [
        "first",
        "researcher",
    ]

    again = api.post(f"/api/v1/pods/{pod['id']}/agents", json=agent, headers=ADMIN)
    assert again.status_code == 409 and "researcher" in again.json()["detail"]

    removed = api.delete(f"/api/v1/pods/{pod['id']}/agents/researcher", headers=ADMIN)
    assert removed.status_code == 204
    assert [a["name"] for a in api.get(f"/api/v1/pods/{pod['id']}/agents", headers=ADMIN).json()] == ["first"]
    assert api.delete(f"/api/v1/pods/{pod['id']}/agents/researcher", headers=ADMIN).status_code == 404


def test_adding_an_agent_to_a_missing_pod_is_404_and_needs_the_admin(api: TestClient) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    agent = {"name": "researcher", "role": "task"}
    response = api.post(f"/api/v1/pods/{missing}/agents", json=agent, headers=ADMIN)
    assert response.status_code == 404 and missing in response.json()["detail"]
    assert api.post(f"/api/v1/pods/{missing}/agents", json=agent).status_code == 401


def test_embed_accepts_the_documented_single_text_as_a_list_of_one() -> None:
    assert EmbedRequest.model_validate({"text": "Some text to embed"}).texts == ["Some text to embed"]
    with pytest.raises(ValueError, match="not both"):
        EmbedRequest.model_validate({"text": "a", "texts": ["b"]})
