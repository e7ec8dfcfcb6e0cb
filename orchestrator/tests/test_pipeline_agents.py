"""The agent pipeline through the real llm-gateway process and a fake OpenAI-compatible model."""

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
    behind_gateway,
    create_pod,
    fast_loops,
    pipeline_client,
    submit,
    task_in,
    transitions,
    wait_for,
)  # fmt: skip
from tests.fakes.pipeline_model import PipelineModel
from tests.stack import STACK_SERVICE_TOKEN

MODEL = "openai/gpt-4o-mini"
QUARTET = [
    {"name": "context", "role": "context", "position": 1},
    {"name": "task", "role": "task", "position": 2},
    {"name": "guardrail", "role": "guardrail", "position": 3},
    {"name": "code_review", "role": "code_review", "position": 4, "max_retries": 3},
    {"name": "decision", "role": "decision", "position": 5,
     "run_condition": {"type": "on_flag", "value": "code_review_rejected"}},
    {"name": "documentation", "role": "documentation", "position": 6, "on_failure": "skip"},
]  # fmt: skip


@pytest.fixture(scope="module")
def model() -> PipelineModel:
    return PipelineModel()


@pytest.fixture(scope="module")
def gateway_url(
    model: PipelineModel, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with behind_gateway(model, embedded_redis, tmp_path_factory.mktemp("gateway")) as url:
        yield url


@pytest.fixture
def client(
    settings: Settings, gateway_url: str, model: PipelineModel, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={"llm_gateway_url": gateway_url, "service_token": SecretStr(STACK_SERVICE_TOKEN)}
    )
    model.behaviour.clear()
    model.calls.clear()
    model.started.clear()
    model._release.clear()
    yield from pipeline_client(fast_loops(settings))
    model.release()


def _quartet(client: TestClient, **fields: Any) -> dict[str, Any]:
    return create_pod(client, "quartet-test", QUARTET, default_model=MODEL, **fields)


def _get(client: TestClient, task_id: str, what: str) -> Any:
    return client.get(f"/api/v1/pipeline/tasks/{task_id}/{what}", headers=ADMIN).json()


def test_the_quartet_runs_every_stage_and_records_output_reviews_artifacts_and_usage_once(
    client: TestClient, model: PipelineModel, run_sql: Callable[..., Any]
) -> None:
    task = submit(client, "write an add function", pod_id=_quartet(client)["id"])
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"), what="terminal")
    assert done["status"] == "complete", _get(client, task["id"], "timeline")
    assert done["output"].startswith("def add")
    assert done["completed_stages"] == ["context", "task", "guardrail", "code_review", "documentation"]
    states = [to for _, to in transitions(client, task["id"])]
    assert states == ["submitted", "queued", "context_running", "task_running", "guardrail_running",
                      "review_running", "completing", "complete"]  # fmt: skip
    assert [r["verdict"] for r in _get(client, task["id"], "reviews")] == ["pass"]
    assert {a["name"] for a in _get(client, task["id"], "artifacts")} == {"task-output", "documentation"}
    # The gateway's usage records reach usage_events through the stream: one per model call, tagged by stage.
    wait_for(
        lambda: run_sql("SELECT count(*) AS n FROM usage_events WHERE task_id = $1", task["id"])[0]["n"] == 5
    )
    per_stage = run_sql(
        "SELECT agent_id, count(*) AS n FROM usage_events WHERE task_id = $1 GROUP BY 1", task["id"]
    )
    assert {r["agent_id"]: r["n"] for r in per_stage} == {
        f"pipeline:{s}": 1 for s in ("context", "task", "guardrail", "code_review", "documentation")
    }


def test_invalid_json_twice_applies_the_abort_policy_and_the_timeline_shows_it(
    client: TestClient, model: PipelineModel
) -> None:
    model.behave("task", "invalid")
    task = submit(client, "write an add function", pod_id=_quartet(client)["id"])
    failed = wait_for(lambda: task_in(client, task["id"], "failed"), what="failed")
    assert "on_failure=abort" in failed["error"] and "not JSON" in failed["error"]
    assert model.calls["task"] == 2  # the first answer and the corrective retry
    kinds = [(e["kind"], e["stage"], e["detail"]) for e in _get(client, task["id"], "timeline")]
    assert ("policy", "task", "on_failure=abort") in kinds
    assert any(k == "stage_failed" and s == "task" for k, s, _ in kinds)


def test_invalid_json_twice_with_skip_policy_continues_past_the_stage(
    client: TestClient, model: PipelineModel
) -> None:
    model.behave("guardrail", "invalid")
    agents = [dict(a, on_failure="skip") if a["name"] == "guardrail" else a for a in QUARTET]
    pod = create_pod(client, "skip-guardrail", agents, default_model=MODEL)
    task = submit(client, "write an add function", pod_id=pod["id"])
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"))
    assert done["status"] == "complete"
    assert ("policy", "guardrail", "on_failure=skip") in [
        (e["kind"], e["stage"], e["detail"]) for e in _get(client, task["id"], "timeline")
    ]


def test_needs_refactor_loops_back_to_the_task_agent_then_passes(
    client: TestClient, model: PipelineModel
) -> None:
    model.behave("code_review", "refactor_once")
    task = submit(client, "write an add function", pod_id=_quartet(client)["id"])
    wait_for(lambda: task_in(client, task["id"], "complete"))
    reviews = _get(client, task["id"], "reviews")
    assert [(r["iteration"], r["verdict"]) for r in reviews] == [(0, "needs_refactor"), (1, "pass")]
    assert model.calls["task"] == 2 and model.calls["context"] == 1
    assert ("review_running", "task_running") in transitions(client, task["id"])


def test_rejection_runs_the_decision_agent_and_waits_for_a_human_who_approves(
    client: TestClient, model: PipelineModel
) -> None:
    model.behave("code_review", "reject")
    task = submit(client, "write an add function", pod_id=_quartet(client)["id"])
    wait_for(lambda: task_in(client, task["id"], "pending_human_review"))
    assert any(a["artifact_type"] == "adr" for a in _get(client, task["id"], "artifacts"))
    response = client.post(
        f"/api/v1/pipeline/tasks/{task['id']}/review",
        json={"decision": "approve", "comment": "ship it"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    done = wait_for(lambda: task_in(client, task["id"], "complete"))
    assert done["output"].startswith("def add")


def test_a_guardrail_block_with_critical_findings_escalates_and_rejection_fails_the_task(
    client: TestClient, model: PipelineModel
) -> None:
    model.behave("guardrail", "block")
    task = submit(client, "write an add function", pod_id=_quartet(client)["id"])
    wait_for(lambda: task_in(client, task["id"], "pending_human_review"))
    findings = _get(client, task["id"], "findings")
    assert [(f["type"], f["severity"]) for f in findings] == [("credential_leak", "critical")]
    client.post(f"/api/v1/pipeline/tasks/{task['id']}/review", json={"decision": "reject"}, headers=ADMIN)
    assert "rejected in human review" in wait_for(lambda: task_in(client, task["id"], "failed"))["error"]


def test_context_questions_pause_the_task_until_clarified(client: TestClient, model: PipelineModel) -> None:
    model.behave("context", "clarify")
    task = submit(client, "make it better", pod_id=_quartet(client)["id"])
    paused = wait_for(lambda: task_in(client, task["id"], "clarification_needed"))
    assert paused["clarification_questions"] == ["Which language?"]
    response = client.post(
        f"/api/v1/pipeline/tasks/{task['id']}/clarify", json={"answers": ["Python"]}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: task_in(client, task["id"], "complete"))
    assert model.calls["context"] == 2


def test_cancel_mid_stage_abandons_the_model_call_and_saves_nothing_more(
    client: TestClient, model: PipelineModel
) -> None:
    model.behave("task", "hang")
    task = submit(client, "write an add function", pod_id=_quartet(client)["id"])
    wait_for(lambda: model.started["task"] >= 1 and task_in(client, task["id"], "task_running"))
    response = client.post(f"/api/v1/pipeline/tasks/{task['id']}/cancel", headers=ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    wait_for(lambda: not client.app.state.pipeline.worker.running, what="worker idle")  # type: ignore[attr-defined]
    model.release()
    final = client.get(f"/api/v1/pipeline/tasks/{task['id']}", headers=ADMIN).json()
    assert final["status"] == "cancelled" and final["completed_stages"] == ["context"]
    assert transitions(client, task["id"])[-1] == ("task_running", "cancelled")


def test_a_task_over_its_pods_budget_fails_with_that_reason(client: TestClient, model: PipelineModel) -> None:
    pod = _quartet(client, max_cost_usd=0.000001)
    task = submit(client, "write an add function", pod_id=pod["id"])
    failed = wait_for(lambda: task_in(client, task["id"], "failed"))
    assert failed["error"].startswith("budget exceeded")
    assert model.calls["code_review"] == 0
