"""Pod agents with `allowed_tools` run a tool loop through the real llm-gateway, under the pod's sandbox tier;
an agent turn that delegates with `create_task` passes its narrowed tier and tool list down to the child."""

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from nova_common.embedded import EmbeddedRedis
from orchestrator.config import Settings

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import (
    ADMIN,
    ToolCallingModel,
    behind_gateway,
    create_pod,
    fast_loops,
    pipeline_client,
    submit,
    task_in,
    timeline,
    wait_for,
)  # fmt: skip
from tests.stack import STACK_SERVICE_TOKEN

MODEL = "openai/gpt-4o-mini"


@pytest.fixture(scope="module")
def model() -> ToolCallingModel:
    return ToolCallingModel()


@pytest.fixture(scope="module")
def gateway_url(
    model: ToolCallingModel, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with behind_gateway(model, embedded_redis, tmp_path_factory.mktemp("gateway")) as url:
        yield url


@pytest.fixture
def client(
    settings: Settings, gateway_url: str, model: ToolCallingModel, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={"llm_gateway_url": gateway_url, "service_token": SecretStr(STACK_SERVICE_TOKEN)}
    )
    model.reset()
    yield from pipeline_client(fast_loops(settings))
    model.release()


def _task_pod(client: TestClient, tier: str, tools: list[str]) -> dict[str, Any]:
    agents = [{"name": "task", "role": "task", "allowed_tools": tools}]
    return create_pod(client, f"tools-{tier}", agents, default_model=MODEL, sandbox_tier=tier)


def _stage_output(run_sql: Callable[..., Any], task_id: str, stage: str) -> dict[str, Any]:
    raw = run_sql("SELECT checkpoint -> $2 AS output FROM pipeline_tasks WHERE id = $1", task_id, stage)[0][
        "output"
    ]
    value: dict[str, Any] = json.loads(raw)
    return value


def test_the_task_agent_writes_a_file_with_its_tools_and_calls_outside_its_tools_or_tier_are_refused(
    client: TestClient, model: ToolCallingModel, workspace: Path, run_sql: Callable[..., Any]
) -> None:
    # Shell on, so the refusal below is the agent's tool list, not the admin's switch.
    client.patch("/api/v1/tool-permissions", json={"groups": {"shell": True}}, headers=ADMIN)
    model.tool_rounds["task"] = [
        [
            ("write_file", {"path": "notes/hello.txt", "content": "hello from the pipeline"}),
            ("run_shell", {"command": "touch shell-was-here"}),
            ("write_file", {"path": "../escaped.txt", "content": "out of the sandbox"}),
        ],
        [("read_file", {"path": "notes/hello.txt"})],
    ]
    task = submit(
        client,
        "write a greeting file",
        pod_id=_task_pod(client, "workspace", ["write_file", "read_file"])["id"],
    )
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"), what="terminal")
    assert done["status"] == "complete", timeline(client, task["id"])

    # Offered: exactly the allowed tools, on every round until the answer.
    first = model.requests_of("task")[0]
    assert {t["function"]["name"] for t in first["tools"]} == {"write_file", "read_file"}
    assert len(model.requests_of("task")) == 3  # two tool rounds, then the JSON answer
    # The allowed write landed in the workspace; the refused calls changed nothing.
    assert (workspace / "notes" / "hello.txt").read_text() == "hello from the pipeline"
    assert not (workspace / "shell-was-here").exists()
    assert not (workspace.parent / "escaped.txt").exists()

    calls = _stage_output(run_sql, task["id"], "task")["tool_calls"]
    assert [(c["call"]["name"], c["is_error"]) for c in calls] == [
        ("write_file", False), ("run_shell", True), ("write_file", True), ("read_file", False),
    ]  # fmt: skip
    assert "not among this agent's tools" in calls[1]["result"]
    assert "outside the workspace sandbox" in calls[2]["result"]
    assert calls[3]["result"] == "hello from the pipeline"
    # The results went back to the model before it answered.
    answer_request = model.requests_of("task")[-1]
    tool_messages = [m["content"] for m in answer_request["messages"] if m["role"] == "tool"]
    assert tool_messages[-1] == "hello from the pipeline"

    notes = [
        e["detail"] for e in timeline(client, task["id"]) if e["kind"] == "tool_call" and e["stage"] == "task"
    ]
    assert len(notes) == 4
    assert notes[0].startswith("tool write_file") and "→ ok" in notes[0]
    assert notes[1].startswith("tool run_shell") and "→ error" in notes[1]


def test_the_isolated_tier_offers_no_file_tools_and_refuses_a_file_call(
    client: TestClient, model: ToolCallingModel, workspace: Path, run_sql: Callable[..., Any]
) -> None:
    model.tool_rounds["task"] = [[("write_file", {"path": "isolated.txt", "content": "x"})]]
    pod = _task_pod(client, "isolated", ["write_file", "check_service_health"])
    task = submit(client, "try to write a file", pod_id=pod["id"])
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"), what="terminal")
    assert done["status"] == "complete", timeline(client, task["id"])

    offered = {t["function"]["name"] for t in model.requests_of("task")[0]["tools"]}
    assert offered == {"check_service_health"}
    calls = _stage_output(run_sql, task["id"], "task")["tool_calls"]
    assert calls[0]["is_error"] and "isolated sandbox has no filesystem" in calls[0]["result"]
    assert not (workspace / "isolated.txt").exists()


def test_an_agent_without_allowed_tools_is_offered_none(client: TestClient, model: ToolCallingModel) -> None:
    task = submit(client, "just answer", pod_id=_task_pod(client, "workspace", [])["id"])
    wait_for(lambda: task_in(client, task["id"], "complete"), what="complete")
    assert not model.requests_of("task")[0].get("tools")


def _chat_agent(client: TestClient, name: str, tools: list[str], tier: str) -> dict[str, Any]:
    config = {"name": name, "model": MODEL, "tools": tools, "memory_tiers": [], "metadata": {"sandbox": tier}}
    response = client.post("/api/v1/agents", json={"config": config}, headers=ADMIN)
    assert response.status_code == 201, response.text
    agent: dict[str, Any] = response.json()
    return agent


def _delegate(
    client: TestClient, model: ToolCallingModel, parent: dict[str, Any], child_calls: list[Any]
) -> None:
    """The parent's model delegates to `helper`; every model's next round asks for `child_calls`."""
    model.tool_rounds["task"] = [[("create_task", {"agent": "helper", "instruction": "do it"})], child_calls]
    response = client.post(
        "/api/v1/tasks",
        json={"agent_id": parent["id"], "messages": [{"role": "user", "content": "delegate"}]},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    steps = response.json()["steps"]
    assert steps[0]["call"]["name"] == "create_task" and not steps[0]["is_error"], steps


def test_a_delegated_task_runs_in_its_parents_narrower_sandbox(
    client: TestClient, model: ToolCallingModel, workspace: Path
) -> None:
    parent = _chat_agent(client, "parent", ["create_task", "write_file"], "isolated")
    _chat_agent(client, "helper", ["write_file"], "workspace")
    _delegate(client, model, parent, [("write_file", {"path": "child.txt", "content": "from the child"})])
    # The child would have written into the workspace; under its parent's isolated tier it has no files.
    assert not (workspace / "child.txt").exists()
    child_requests = [r for r in model.requests if r["messages"][-1].get("content") == "do it"]
    assert child_requests and not child_requests[0].get("tools")


def test_a_delegated_task_gets_no_tool_its_parent_lacks(
    client: TestClient, model: ToolCallingModel, workspace: Path
) -> None:
    client.patch("/api/v1/tool-permissions", json={"groups": {"shell": True}}, headers=ADMIN)
    parent = _chat_agent(client, "parent", ["create_task", "read_file"], "workspace")
    _chat_agent(client, "helper", ["write_file", "run_shell", "read_file"], "workspace")
    _delegate(
        client,
        model,
        parent,
        [
            ("write_file", {"path": "child.txt", "content": "x"}),
            ("run_shell", {"command": "touch shell-ran"}),
        ],
    )
    assert not (workspace / "child.txt").exists() and not (workspace / "shell-ran").exists()
    child_requests = [r for r in model.requests if r["messages"][-1].get("content") == "do it"]
    assert {t["function"]["name"] for t in child_requests[0]["tools"]} == {"read_file"}
