"""Shared helpers of the pipeline tests (no tests here): the app with the pipeline mounted, pods, polling,
a fake model that also asks for tool calls, and a real llm-gateway process in front of it."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tests.fakes import serve_in_thread
from tests.fakes.pipeline_model import PipelineModel
from tests.stack import ServiceProcess

from nova_common.embedded import EmbeddedRedis, free_port
from nova_common.testing import eventually
from orchestrator.config import Settings
from orchestrator.main import create_app
from orchestrator.pipeline.settings import PipelineSettings

ADMIN = {"X-Admin-Secret": "orchestrator-test-admin-secret"}
FAST_LOOPS = {
    "PIPELINE_HEARTBEAT_SECONDS": "0.3",
    "PIPELINE_REAPER_SECONDS": "0.3",
    "PIPELINE_STALE_SECONDS": "2",
    "PIPELINE_REQUEUE_AFTER_SECONDS": "0.5",
}


def fast_loops(settings: Settings, **pipeline: Any) -> Settings:
    """`settings` with the pipeline's loops fast (FAST_LOOPS, which started processes get as environment)
    and any other pipeline field given by name; `create_app` takes the pipeline part from its settings."""
    fast = {key.removeprefix("PIPELINE_").lower(): value for key, value in FAST_LOOPS.items()}
    return settings.model_copy(
        update={
            "pipeline": PipelineSettings.model_validate(
                {**settings.pipeline.model_dump(), **fast, **pipeline}
            )
        }
    )


def pipeline_client(settings: Settings) -> Iterator[TestClient]:
    """The orchestrator app with the pipeline (mounted here until main.py wires it; a no-op afterwards)."""
    with TestClient(create_app(settings)) as client:
        yield client


def create_pod(client: TestClient, name: str, agents: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/pods", json={"name": name, "agents": agents, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    pod: dict[str, Any] = response.json()
    return pod


def submit(client: TestClient, goal: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/pipeline/tasks", json={"goal": goal, **fields}, headers=ADMIN)
    assert response.status_code == 202, response.text
    task: dict[str, Any] = response.json()
    return task


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """The kit's `eventually`, polled more often: a pipeline step takes milliseconds."""
    return eventually(predicate, timeout=timeout, interval=0.05, what=what)


def task_in(client: TestClient, task_id: str, *states: str) -> dict[str, Any] | None:
    task: dict[str, Any] = client.get(f"/api/v1/pipeline/tasks/{task_id}", headers=ADMIN).json()
    return task if task["status"] in states else None


def transitions(client: TestClient, task_id: str) -> list[tuple[str | None, str | None]]:
    timeline = client.get(f"/api/v1/pipeline/tasks/{task_id}/timeline", headers=ADMIN).json()
    return [(e["from_status"], e["to_status"]) for e in timeline if e["kind"] == "transition"]


class ToolCallingModel(PipelineModel):
    """The pipeline's fake model, which also keeps every request it gets and, for a role given tool rounds,
    asks for those tool calls (one round per entry, while the request offers tools) before answering."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.tool_rounds: dict[str, list[list[tuple[str, dict[str, Any]]]]] = {}

    def reset(self) -> None:
        self.behaviour.clear()
        self.calls.clear()
        self.started.clear()
        self._release.clear()
        self.requests.clear()
        self.tool_rounds.clear()

    @staticmethod
    def role_of(body: dict[str, Any]) -> str:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "task_output")
        return str(schema).removesuffix("_output")

    def requests_of(self, role: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if self.role_of(r) == role]

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        role = self.role_of(body)
        done = sum(1 for m in body["messages"] if m["role"] == "assistant" and m.get("tool_calls"))
        rounds = self.tool_rounds.get(role, [])
        if not body.get("tools") or done >= len(rounds):
            return await super().chat(request)
        calls = [
            {
                "id": f"call_{done}_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(rounds[done])
        ]
        return JSONResponse({
            "id": "chatcmpl-tools", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": calls},
                         "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        })  # fmt: skip


@contextmanager
def serving(model: PipelineModel) -> Iterator[str]:
    """The fake model on loopback; yields its URL."""
    with serve_in_thread(model.app) as live:
        yield live.url


@contextmanager
def llm_gateway(model_url: str, redis_url: str, log_dir: Path) -> Iterator[str]:
    """A real llm-gateway process whose OpenAI provider is the fake model; yields its URL."""
    env = {
        "REDIS_URL": redis_url,
        "OPENAI_API_KEY": "sk-test-openai-key-0123456789",
        "OPENAI_BASE_URL": f"{model_url}/v1",
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}",
        "REQUIRE_AUTH": "false",
    }
    gateway = ServiceProcess("llm_gateway", env, log_dir).start()
    try:
        yield gateway.url
    finally:
        gateway.stop()


@contextmanager
def behind_gateway(model: PipelineModel, redis: EmbeddedRedis | None, log_dir: Path) -> Iterator[str]:
    """`model` on loopback with a real llm-gateway process in front of it; yields the gateway's URL."""
    assert redis is not None
    with serving(model) as model_url, llm_gateway(model_url, redis.url, log_dir) as url:
        yield url


def timeline(client: TestClient, task_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = client.get(
        f"/api/v1/pipeline/tasks/{task_id}/timeline", headers=ADMIN
    ).json()
    return entries
