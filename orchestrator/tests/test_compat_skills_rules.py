"""Skills and rules (issue 20): admin CRUD; a pipeline agent's prompt carries its skills and the rules; a tool
call a rule matches is refused before it runs, with the rule's name in the result and the task's timeline."""

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
NO_ENV = {
    "name": "no-env-files",
    "description": "Never read or write .env files: they hold secrets.",
    "tool_pattern": "write_file|read_file",
    "argument_pattern": r"\.env\b",
}


def test_skills_and_rules_are_created_listed_changed_and_deleted_by_the_admin_only(
    client: TestClient,
) -> None:
    skill = client.post(
        "/api/v1/skills", json={"name": "house-style", "content": "Write short sentences."}, headers=ADMIN
    )
    assert skill.status_code == 201, skill.text
    skill_id = skill.json()["id"]
    assert [s["name"] for s in client.get("/api/v1/skills", headers=ADMIN).json()] == ["house-style"]
    changed = client.patch(f"/api/v1/skills/{skill_id}", json={"enabled": False}, headers=ADMIN)
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    duplicate = client.post("/api/v1/skills", json={"name": "house-style", "content": "x"}, headers=ADMIN)
    assert duplicate.status_code == 409 and "house-style" in duplicate.json()["detail"]

    rule = client.post("/api/v1/rules", json=NO_ENV, headers=ADMIN)
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]
    cleared = client.patch(f"/api/v1/rules/{rule_id}", json={"argument_pattern": None}, headers=ADMIN)
    assert cleared.status_code == 200 and cleared.json()["argument_pattern"] is None
    bad = client.post(
        "/api/v1/rules", json={**NO_ENV, "name": "bad", "tool_pattern": "(unclosed"}, headers=ADMIN
    )
    assert bad.status_code == 400 and "tool_pattern" in bad.json()["detail"]

    assert client.get("/api/v1/rules").status_code == 401
    assert client.delete(f"/api/v1/rules/{rule_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/api/v1/rules/{rule_id}", headers=ADMIN).status_code == 404
    assert client.delete(f"/api/v1/skills/{skill_id}", headers=ADMIN).status_code == 204
    assert client.get("/api/v1/skills", headers=ADMIN).json() == []


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
def pipeline(
    settings: Settings, gateway_url: str, model: ToolCallingModel, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={"llm_gateway_url": gateway_url, "service_token": SecretStr(STACK_SERVICE_TOKEN)}
    )
    model.reset()
    yield from pipeline_client(fast_loops(settings))
    model.release()


def test_a_rule_blocks_a_matching_tool_call_of_a_pipeline_agent_and_the_prompt_carries_rules_and_skills(
    pipeline: TestClient, model: ToolCallingModel, workspace: Path, run_sql: Callable[..., Any]
) -> None:
    client = pipeline
    assert client.post("/api/v1/rules", json=NO_ENV, headers=ADMIN).status_code == 201
    skill = {"name": "house-style", "content": "Always answer in short sentences."}
    assert client.post("/api/v1/skills", json=skill, headers=ADMIN).status_code == 201
    model.tool_rounds["task"] = [
        [
            ("write_file", {"path": ".env", "content": "SECRET=leaked"}),
            ("write_file", {"path": "notes.txt", "content": "allowed"}),
        ]
    ]
    agents = [{"name": "task", "role": "task", "allowed_tools": ["write_file"], "skills": ["house-style"]}]
    pod = create_pod(client, "ruled", agents, default_model=MODEL)
    assert pod["agents"][0]["skills"] == ["house-style"]
    task = submit(client, "set things up", pod_id=pod["id"])
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"), what="terminal")
    assert done["status"] == "complete", timeline(client, task["id"])

    assert not (workspace / ".env").exists()
    assert (workspace / "notes.txt").read_text() == "allowed"
    raw = run_sql("SELECT checkpoint -> 'task' AS output FROM pipeline_tasks WHERE id = $1", task["id"])[0]
    calls = json.loads(raw["output"])["tool_calls"]
    assert [(c["call"]["arguments"]["path"], c["is_error"]) for c in calls] == [
        (".env", True),
        ("notes.txt", False),
    ]
    assert calls[0]["result"].startswith("blocked by rule 'no-env-files'")
    notes = [e["detail"] for e in timeline(client, task["id"]) if e["kind"] == "tool_call"]
    assert "→ error: blocked by rule 'no-env-files'" in notes[0]

    system = model.requests_of("task")[0]["messages"][0]
    assert system["role"] == "system"
    assert "no-env-files: Never read or write .env files" in system["content"]
    assert "Always answer in short sentences." in system["content"]
