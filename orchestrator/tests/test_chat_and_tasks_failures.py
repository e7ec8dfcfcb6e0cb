"""Chat and tasks when llm-gateway and memory-service are down: the stream says which one, non-streaming
calls answer 503 naming it, and the user's message is stored before anything else is tried."""

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient


def sse_events(response: Any) -> list[Any]:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def _chat(client: TestClient, admin: dict[str, str], message: str, **extra: Any) -> Any:
    headers = {**admin, **extra.pop("headers", {})}
    return client.post("/api/v1/chat/stream", json={"message": message, **extra}, headers=headers)


def _forgetful_agent(client: TestClient, admin: dict[str, str]) -> str:
    """An agent without memory tiers: its turn goes straight to the gateway."""
    body = {"config": {"name": "forgetful", "memory_tiers": []}}
    return client.post("/api/v1/agents", json=body, headers=admin).json()["id"]


def test_chat_with_memory_service_down_says_so_and_keeps_the_users_message(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = _chat(client, admin, "Remember that my cat is called Miso")
    assert response.status_code == 200
    session_id = response.headers["X-Session-Id"]
    events = sse_events(response)
    assert events[0]["meta"]["session_id"] == session_id
    errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1 and "memory-service" in errors[0]
    assert events[-1] == "[DONE]"

    conversation_id = events[0]["meta"]["conversation_id"]
    stored = client.get(f"/api/v1/conversations/{conversation_id}", headers=admin).json()
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "Remember that my cat is called Miso")
    ]
    assert stored["title"] == "Remember that my cat is called Miso"


def test_chat_with_gateway_down_names_the_gateway(client: TestClient, admin: dict[str, str]) -> None:
    agent_id = _forgetful_agent(client, admin)
    events = sse_events(_chat(client, admin, "hello", agent_id=agent_id))
    errors = [e["error"] for e in events if isinstance(e, dict) and "error" in e]
    assert len(errors) == 1 and "llm-gateway" in errors[0]


def test_the_session_header_continues_the_same_conversation(
    client: TestClient, admin: dict[str, str]
) -> None:
    first = _chat(client, admin, "first")
    session_id = first.headers["X-Session-Id"]
    second = _chat(client, admin, "second", headers={"X-Session-Id": session_id})
    assert second.headers["X-Session-Id"] == session_id
    conversations = client.get("/api/v1/conversations", headers=admin).json()
    assert len(conversations) == 1 and conversations[0]["message_count"] == 2
    messages = client.get(f"/api/v1/conversations/{conversations[0]['id']}/messages", headers=admin).json()
    assert [m["content"] for m in messages] == ["first", "second"]


def test_a_client_chosen_session_id_starts_a_conversation_under_that_id(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = _chat(client, admin, "hi", session_id="telegram:42")
    assert response.headers["X-Session-Id"] == "telegram:42"


def test_conversations_can_be_renamed_and_deleted(client: TestClient, admin: dict[str, str]) -> None:
    conversation_id = sse_events(_chat(client, admin, "plan a trip"))[0]["meta"]["conversation_id"]
    renamed = client.patch(f"/api/v1/conversations/{conversation_id}", json={"title": "Trip"}, headers=admin)
    assert renamed.json()["title"] == "Trip"
    assert client.delete(f"/api/v1/conversations/{conversation_id}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/conversations/{conversation_id}", headers=admin).status_code == 404
    assert (
        client.patch(f"/api/v1/conversations/{uuid.uuid4()}", json={"title": "x"}, headers=admin).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/conversations/{conversation_id}", json={"title": ""}, headers=admin
        ).status_code
        == 422
    )


def test_chat_with_an_unknown_agent_is_404_before_streaming(
    client: TestClient, admin: dict[str, str]
) -> None:
    assert _chat(client, admin, "hi", agent_id=str(uuid.uuid4())).status_code == 404
    assert _chat(client, admin, "hi", agent_id="not-a-uuid").status_code == 404


def test_task_with_a_dependency_down_is_503_naming_it_and_recorded_as_failed(
    client: TestClient, admin: dict[str, str]
) -> None:
    agent_id = _forgetful_agent(client, admin)
    body = {"agent_id": agent_id, "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/api/v1/tasks", json=body, headers=admin)
    assert response.status_code == 503 and "llm-gateway" in response.json()["detail"]

    streamed = sse_events(client.post("/api/v1/tasks/stream", json=body, headers=admin))
    task_id = streamed[0]["meta"]["task_id"]
    assert "llm-gateway" in streamed[-2]["error"] and streamed[-1] == "[DONE]"
    task = client.get(f"/api/v1/tasks/{task_id}", headers=admin).json()
    assert task["status"] == "failed" and "llm-gateway" in task["error"]
    # The agent is usable again: a failed turn leaves it in error, not running.
    assert client.get(f"/api/v1/agents/{agent_id}", headers=admin).json()["status"] == "error"


def test_unknown_task_and_unknown_agent_are_404(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get(f"/api/v1/tasks/{uuid.uuid4()}", headers=admin).status_code == 404
    body = {"agent_id": str(uuid.uuid4()), "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/api/v1/tasks", json=body, headers=admin).status_code == 404
    assert client.post("/api/v1/tasks/stream", json=body, headers=admin).status_code == 404


def test_openai_endpoint_with_memory_down_is_503_and_streams_the_error(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {"model": "nova", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body, headers=admin)
    assert response.status_code == 503 and "memory-service" in response.json()["detail"]
    events = sse_events(client.post("/v1/chat/completions", json={**body, "stream": True}, headers=admin))
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "memory-service" in events[-2]["error"]["message"] and events[-1] == "[DONE]"
