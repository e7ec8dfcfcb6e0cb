"""Keys are tenants and privilege follows the caller (issue 13): what an API key may give its agents, and that
it sees and changes only its own agents, tasks and conversations while the admin sees everything."""

import json
from typing import Any

from fastapi.testclient import TestClient

from orchestrator.agents.policy import SAFE_KEY_TOOLS
from orchestrator.config import Settings
from orchestrator.main import create_app

ESCALATION = {
    "config": {"name": "sneaky", "tools": ["read_file", "run_shell"], "metadata": {"sandbox": "host"}}
}


def _key(client: TestClient, admin: dict[str, str], name: str = "ide") -> dict[str, str]:
    created = client.post("/api/v1/keys", json={"name": name, "rate_limit_rpm": 10_000}, headers=admin)
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def _events(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.removeprefix("data:").strip())
        for line in text.splitlines()
        if line.startswith("data:") and line.strip() != "data: [DONE]"
    ]


def _primary(client: TestClient, admin: dict[str, str]) -> dict[str, Any]:
    return next(a for a in client.get("/api/v1/agents", headers=admin).json() if a["primary"])


def test_an_api_key_asking_for_the_host_sandbox_and_the_shell_is_refused_with_403(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _key(client, admin)
    response = client.post("/api/v1/agents", json=ESCALATION, headers=key)
    assert response.status_code == 403, response.text
    assert "metadata.sandbox" in response.json()["detail"]
    shell_only = {"config": {"name": "shell", "tools": ["read_file", "run_shell"]}}
    response = client.post("/api/v1/agents", json=shell_only, headers=key)
    assert response.status_code == 403, response.text
    assert "run_shell" in response.json()["detail"] and "admin" in response.json()["detail"]
    git_group = client.post("/api/v1/agents", json={"config": {"name": "g", "tools": ["git"]}}, headers=key)
    assert git_group.status_code == 403
    assert [a["config"]["name"] for a in client.get("/api/v1/agents", headers=key).json()] == ["Nova"]
    # The admin still may.
    created = client.post("/api/v1/agents", json=ESCALATION, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["tools"] == ["read_file", "run_shell"]


def test_an_api_keys_agent_gets_the_default_tools_without_shell_or_git(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _key(client, admin)
    created = client.post("/api/v1/agents", json={"config": {"name": "helper"}}, headers=key)
    assert created.status_code == 201, created.text
    agent = created.json()
    assert agent["config"]["tools"] == sorted(SAFE_KEY_TOOLS)
    assert not {"run_shell", "git_commit", "git_diff"} & set(agent["config"]["tools"])
    assert agent["owner"].startswith("key:")
    narrower = client.post(
        "/api/v1/agents", json={"config": {"name": "reader", "tools": ["read_file"], "metadata": {"sandbox": "isolated"}}},
        headers=key,
    )  # fmt: skip
    assert narrower.status_code == 201 and narrower.json()["config"]["tools"] == ["read_file"]


def test_a_key_may_change_its_own_agent_but_not_widen_its_tools_or_tier(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _key(client, admin)
    agent_id = client.post("/api/v1/agents", json={"config": {"name": "helper"}}, headers=key).json()["id"]
    renamed = client.patch(f"/api/v1/agents/{agent_id}/config", json={"name": "renamed"}, headers=key)
    assert renamed.status_code == 200 and renamed.json()["config"]["name"] == "renamed"
    for patch, field in (
        ({"tools": ["run_shell"]}, "config.tools"),
        ({"metadata": {"sandbox": "nova"}}, "sandbox"),
    ):
        response = client.patch(f"/api/v1/agents/{agent_id}/config", json=patch, headers=key)
        assert response.status_code == 403, response.text
        assert field in response.json()["detail"]
    primary = _primary(client, admin)
    refused = client.patch(f"/api/v1/agents/{primary['id']}/config", json={"name": "mine"}, headers=key)
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]


def test_a_keys_turn_on_an_agent_set_to_the_host_tier_does_not_run_under_host(
    client: TestClient, admin: dict[str, str]
) -> None:
    """The primary agent serves every caller; the admin set it to `host` (which this orchestrator does not
    allow, so a turn under host stops with 409 before any model call). A key's turn is held to its default
    tier instead and gets as far as the model (llm-gateway is down here: 503 naming it)."""
    primary = _primary(client, admin)
    patched = client.patch(
        f"/api/v1/agents/{primary['id']}/config",
        json={"metadata": {"sandbox": "host"}, "memory_tiers": []},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    turn = {"agent_id": primary["id"], "messages": [{"role": "user", "content": "cat /etc/shadow"}]}
    as_admin = client.post("/api/v1/tasks", json=turn, headers=admin)
    assert as_admin.status_code == 409 and "host" in as_admin.json()["detail"]

    as_key = client.post("/api/v1/tasks", json=turn, headers=_key(client, admin))
    assert as_key.status_code == 503, as_key.text
    assert "llm-gateway" in as_key.json()["detail"] and "host" not in as_key.json()["detail"]


def test_a_key_cannot_create_more_agents_than_limits_agents_per_key(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _key(client, admin)
    for i in range(20):
        assert (
            client.post("/api/v1/agents", json={"config": {"name": f"a{i}"}}, headers=key).status_code == 201
        )
    refused = client.post("/api/v1/agents", json={"config": {"name": "one-too-many"}}, headers=key)
    assert refused.status_code == 409
    assert "limits.agents_per_key" in refused.json()["detail"]
    # Another key and the admin have their own room.
    other = client.post("/api/v1/agents", json={"config": {"name": "b"}}, headers=_key(client, admin, "b"))
    assert other.status_code == 201
    assert client.post("/api/v1/agents", json={"config": {"name": "c"}}, headers=admin).status_code == 201


def test_a_key_sees_and_deletes_only_its_own_agents_and_the_admin_sees_all(
    client: TestClient, admin: dict[str, str]
) -> None:
    key_a, key_b = _key(client, admin, "a"), _key(client, admin, "b")
    agent_a = client.post("/api/v1/agents", json={"config": {"name": "of-a"}}, headers=key_a).json()["id"]
    agent_b = client.post("/api/v1/agents", json={"config": {"name": "of-b"}}, headers=key_b).json()["id"]

    assert {a["config"]["name"] for a in client.get("/api/v1/agents", headers=key_b).json()} == {
        "Nova",
        "of-b",
    }
    assert client.get(f"/api/v1/agents/{agent_a}", headers=key_b).status_code == 404
    assert client.delete(f"/api/v1/agents/{agent_a}", headers=key_b).status_code == 404
    assert client.get(f"/api/v1/agents/{agent_a}", headers=key_a).status_code == 200
    assert {a["id"] for a in client.get("/api/v1/agents", headers=admin).json()} >= {agent_a, agent_b}
    assert client.delete(f"/api/v1/agents/{agent_b}", headers=admin).status_code == 204


def test_a_key_lists_and_cancels_only_its_own_pipeline_tasks(
    client: TestClient, admin: dict[str, str]
) -> None:
    key_a, key_b = _key(client, admin, "a"), _key(client, admin, "b")
    task_a = client.post("/api/v1/pipeline/tasks", json={"goal": "write a haiku"}, headers=key_a)
    assert task_a.status_code == 202, task_a.text
    task_id = task_a.json()["id"]

    assert client.get("/api/v1/pipeline/tasks", headers=key_b).json()["items"] == []
    assert client.get(f"/api/v1/pipeline/tasks/{task_id}", headers=key_b).status_code == 404
    assert client.post(f"/api/v1/pipeline/tasks/{task_id}/cancel", headers=key_b).status_code == 404
    assert client.get(f"/api/v1/pipeline/events?task_id={task_id}", headers=key_b).status_code == 404
    assert [t["id"] for t in client.get("/api/v1/pipeline/tasks", headers=key_a).json()["items"]] == [task_id]
    assert task_id in [t["id"] for t in client.get("/api/v1/pipeline/tasks", headers=admin).json()["items"]]


def test_human_review_of_a_pipeline_task_is_for_the_admin_only(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = _key(client, admin)
    task_id = client.post("/api/v1/pipeline/tasks", json={"goal": "ship it"}, headers=key).json()["id"]
    refused = client.post(
        f"/api/v1/pipeline/tasks/{task_id}/review", json={"decision": "approve"}, headers=key
    )
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]
    # The admin gets past the caller check (the task is not waiting for a review: 409).
    decided = client.post(
        f"/api/v1/pipeline/tasks/{task_id}/review", json={"decision": "approve"}, headers=admin
    )
    assert decided.status_code == 409


def test_a_keys_interactive_task_and_conversation_are_invisible_to_another_key(
    client: TestClient, admin: dict[str, str]
) -> None:
    key_a, key_b = _key(client, admin, "a"), _key(client, admin, "b")
    agent = client.post(
        "/api/v1/agents", json={"config": {"name": "quiet", "memory_tiers": []}}, headers=key_a
    )
    turn = {"agent_id": agent.json()["id"], "messages": [{"role": "user", "content": "hello"}]}
    streamed = _events(client.post("/api/v1/tasks/stream", json=turn, headers=key_a).text)
    task_id = streamed[0]["meta"]["task_id"]
    assert client.get(f"/api/v1/tasks/{task_id}", headers=key_b).status_code == 404
    assert client.get(f"/api/v1/tasks/{task_id}", headers=key_a).json()["status"] == "failed"
    assert client.get(f"/api/v1/tasks/{task_id}", headers=admin).status_code == 200

    chat = client.post(
        "/api/v1/chat/stream", json={"message": "hi", "agent_id": agent.json()["id"]}, headers=key_a
    )
    conversation_id = _events(chat.text)[0]["meta"]["conversation_id"]

    assert client.get(f"/api/v1/conversations/{conversation_id}", headers=key_b).status_code == 404
    assert client.delete(f"/api/v1/conversations/{conversation_id}", headers=key_b).status_code == 404
    assert client.get("/api/v1/conversations", headers=key_b).json() == []
    assert [c["id"] for c in client.get("/api/v1/conversations", headers=key_a).json()] == [conversation_id]
    assert conversation_id in [c["id"] for c in client.get("/api/v1/conversations", headers=admin).json()]
    # Continuing A's session under B does not reach A's conversation.
    session = client.get(f"/api/v1/conversations/{conversation_id}", headers=key_a).json()["session_id"]
    hijack = client.post("/api/v1/chat/stream", json={"message": "hi", "session_id": session}, headers=key_b)
    assert hijack.status_code == 409
    assert len(client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=key_a).json()) <= 2


def test_list_endpoints_refuse_pages_over_200_and_honour_limit(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/api/v1/agents", json={"config": {"name": "second"}}, headers=admin)
    for path in (
        "/api/v1/agents",
        "/api/v1/keys",
        "/api/v1/conversations",
        "/api/v1/usage",
        "/api/v1/pipeline/tasks",
        "/api/v1/pipeline/dead-letter",
        "/api/v1/mcp-servers",
        "/api/v1/pods",
    ):
        assert client.get(f"{path}?limit=201", headers=admin).status_code == 422, path
        assert client.get(f"{path}?offset=-1", headers=admin).status_code == 422, path
        assert client.get(f"{path}?limit=200&offset=0", headers=admin).status_code == 200, path
    assert len(client.get("/api/v1/agents?limit=1", headers=admin).json()) == 1
    task_id = client.post("/api/v1/pipeline/tasks", json={"goal": "count"}, headers=admin).json()["id"]
    timeline = f"/api/v1/pipeline/tasks/{task_id}/timeline"
    assert client.get(f"{timeline}?limit=201", headers=admin).status_code == 422
    assert len(client.get(f"{timeline}?limit=1", headers=admin).json()) == 1
    assert len(client.get("/api/v1/pods?limit=1&offset=1", headers=admin).json()) == 1


def test_the_anonymous_local_caller_is_a_tenant_of_its_own_and_never_the_admin(
    settings: Settings, admin: dict[str, str]
) -> None:
    app = create_app(settings.model_copy(update={"require_auth": False}))
    with TestClient(app, client=("127.0.0.1", 50000), base_url="http://127.0.0.1:8000") as local:
        key = _key(local, admin)
        of_key = local.post("/api/v1/agents", json={"config": {"name": "of-key"}}, headers=key).json()["id"]
        created = local.post("/api/v1/agents", json={"config": {"name": "mine"}})
        assert created.status_code == 201, created.text
        assert local.post("/api/v1/agents", json=ESCALATION).status_code == 403

        assert {a["config"]["name"] for a in local.get("/api/v1/agents").json()} == {"Nova", "mine"}
        assert local.get(f"/api/v1/agents/{of_key}").status_code == 404
        assert local.get(f"/api/v1/agents/{created.json()['id']}", headers=key).status_code == 404
        assert {a["config"]["name"] for a in local.get("/api/v1/agents", headers=admin).json()} >= {
            "mine",
            "of-key",
        }
        assert local.get("/api/v1/keys").status_code == 401
        assert created.json()["owner"] == "local"


def test_the_admin_sets_what_keys_agents_get_through_platform_config(
    client: TestClient, admin: dict[str, str]
) -> None:
    for key_name, value in (
        ("agents.key_default_tools", ["read_file", "run_shell"]),
        ("agents.key_default_tier", "isolated"),
        ("limits.agents_per_key", 1),
    ):
        assert (
            client.patch(f"/api/v1/config/{key_name}", json={"value": value}, headers=admin).status_code
            == 200
        )
    key = _key(client, admin)
    shell = client.post(
        "/api/v1/agents", json={"config": {"name": "sh", "tools": ["run_shell"]}}, headers=key
    )
    assert shell.status_code == 201, shell.text
    workspace = {"config": {"name": "ws", "metadata": {"sandbox": "workspace"}}}
    refused = client.post("/api/v1/agents", json=workspace, headers=_key(client, admin, "other"))
    assert refused.status_code == 403 and "isolated" in refused.json()["detail"]
    assert client.post("/api/v1/agents", json={"config": {"name": "second"}}, headers=key).status_code == 409
