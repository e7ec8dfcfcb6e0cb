"""The Context agent is given memories from a real memory-service and similar prior tasks from Postgres;
with memory-service down the stage goes on without memories and says so."""

import asyncio
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from nova_common.embedded import EmbeddedRedis, free_port
from orchestrator.config import Settings

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import (
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
from tests.stack import STACK_SERVICE_TOKEN, ServiceProcess

MODEL = "openai/gpt-4o-mini"
AGENTS = [
    {"name": "context", "role": "context", "position": 1},
    {"name": "task", "role": "task", "position": 2},
]
MEMORY = "House rule: the add function must use integer arithmetic and reject floats."


@pytest.fixture(scope="module")
def model() -> ToolCallingModel:
    return ToolCallingModel()


@pytest.fixture(scope="module")
def gateway_url(
    model: ToolCallingModel, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with behind_gateway(model, embedded_redis, tmp_path_factory.mktemp("gateway")) as url:
        yield url


@pytest.fixture(scope="module")
def memory_service_url(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real memory-service process on a database of its own. Its embedding gateway is unreachable, so it
    stores memories for later embedding and searches by keywords, as it does when llm-gateway is down."""
    assert embedded_redis is not None
    name = f"mem_{uuid.uuid4().hex[:10]}"

    async def create_database() -> None:
        admin = await asyncpg.connect(postgres_admin_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(create_database())
    env = {
        "DATABASE_URL": f"{postgres_admin_url.rpartition('/')[0]}/{name}",
        "REDIS_URL": embedded_redis.url,
        "LLM_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
    }
    service = ServiceProcess("memory_service", env, tmp_path_factory.mktemp("memory")).start()
    try:
        response = httpx.post(
            f"{service.url}/api/v1/memories",
            json={"content": MEMORY, "tier": "semantic"},
            headers={"X-Service-Token": STACK_SERVICE_TOKEN},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        yield service.url
    finally:
        service.stop()


def _client(settings: Settings, monkeypatch: pytest.MonkeyPatch, **urls: str) -> Iterator[TestClient]:
    yield from pipeline_client(
        fast_loops(settings).model_copy(update={**urls, "service_token": SecretStr(STACK_SERVICE_TOKEN)})
    )


@pytest.fixture
def client(
    settings: Settings,
    gateway_url: str,
    memory_service_url: str,
    model: ToolCallingModel,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    model.reset()
    yield from _client(
        settings, monkeypatch, llm_gateway_url=gateway_url, memory_service_url=memory_service_url
    )


@pytest.fixture
def client_without_memory(
    settings: Settings, gateway_url: str, model: ToolCallingModel, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The test settings point memory-service at a closed port."""
    model.reset()
    yield from _client(settings, monkeypatch, llm_gateway_url=gateway_url)


def _context_output(run_sql: Callable[..., Any], task_id: str) -> dict[str, Any]:
    raw = run_sql("SELECT checkpoint -> 'context' AS output FROM pipeline_tasks WHERE id = $1", task_id)
    value: dict[str, Any] = json.loads(raw[0]["output"])
    return value


def _context_prompt(model: ToolCallingModel) -> str:
    request = model.requests_of("context")[-1]
    return "\n".join(str(m["content"]) for m in request["messages"] if m["role"] == "user")


def test_the_context_agent_is_given_matching_memories_and_similar_prior_tasks(
    client: TestClient, model: ToolCallingModel, run_sql: Callable[..., Any]
) -> None:
    pod = create_pod(client, "context-recall", AGENTS, default_model=MODEL)
    first = submit(client, "write an add function for integers", pod_id=pod["id"])
    wait_for(lambda: task_in(client, first["id"], "complete"), what="first task complete")
    unrelated = submit(client, "draw a cat", pod_id=pod["id"])
    wait_for(lambda: task_in(client, unrelated["id"], "complete"), what="unrelated task complete")

    second = submit(client, "write an add function for floats", pod_id=pod["id"])
    wait_for(lambda: task_in(client, second["id"], "complete"), what="second task complete")

    prompt = _context_prompt(model)
    assert MEMORY in prompt
    assert "write an add function for integers" in prompt and "def add(a, b)" in prompt
    assert "draw a cat" not in prompt
    recall = _context_output(run_sql, second["id"])["recall"]
    assert recall["memory_service"] == "available"
    assert [m["content"] for m in recall["memories"]] == [MEMORY]
    assert [t["id"] for t in recall["prior_tasks"]] == [first["id"]]


def test_with_memory_service_down_the_context_stage_continues_without_memories_and_says_so(
    client_without_memory: TestClient, model: ToolCallingModel, run_sql: Callable[..., Any]
) -> None:
    client = client_without_memory
    pod = create_pod(client, "context-no-memory", AGENTS, default_model=MODEL)
    task = submit(client, "write an add function", pod_id=pod["id"])
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"), what="terminal")
    assert done["status"] == "complete", timeline(client, task["id"])

    recall = _context_output(run_sql, task["id"])["recall"]
    assert recall["memory_service"] == "unavailable" and "memory-service" in recall["memory_error"]
    assert recall["memories"] == []
    assert "memory-service was unavailable" in _context_prompt(model)
    notes = [e["detail"] for e in timeline(client, task["id"]) if e["kind"] == "note"]
    assert any(n.startswith("memory-service unavailable, continuing without memories") for n in notes)
