"""The orchestrator as a producer of memory formation (issue 15): a finished chat turn and a finished pipeline
task each put one item into memory-service's ingestion queue, with its source (kind, URI, title) and its
owner (the admin or the API key that ran it). Real processes: the fake model → llm-gateway, memory-service
(its consumers off, so the items wait in its Redis queue to be read); the orchestrator app in this process."""

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from nova_common.embedded import EmbeddedRedis
from orchestrator.config import Settings

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import (
    ADMIN,
    behind_gateway,
    fast_loops,
    pipeline_client,
    task_in,
    wait_for,
)  # fmt: skip
from tests.fakes.pipeline_model import PipelineModel
from tests.stack import STACK_SERVICE_TOKEN, ServiceProcess

QUEUE_KEY = "nova:memory:ingest:queue"


@pytest.fixture(scope="module")
def gateway_url(
    embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # Answers every call with valid JSON for its role; a chat turn's answer is the task role's JSON.
    with behind_gateway(PipelineModel(), embedded_redis, tmp_path_factory.mktemp("gateway")) as url:
        yield url


@pytest.fixture
def memory_url(gateway_url: str, database_url: str, redis_base_url: str, tmp_path: Path) -> Iterator[str]:
    memory = ServiceProcess(
        "memory_service",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "LLM_GATEWAY_URL": gateway_url,
            "NOVA_SERVICE_TOKEN": STACK_SERVICE_TOKEN,
            # No consumer: what the orchestrator queues stays in the queue for the test to read.
            "INGEST_ENABLED": "false",
            "CONSOLIDATION_ENABLED": "false",
            "COMPACTION_ENABLED": "false",
            **({"ALLOWED_HOSTS": os.environ["ALLOWED_HOSTS"]} if "ALLOWED_HOSTS" in os.environ else {}),
        },
        tmp_path,
    ).start(ready_within=120)
    try:
        yield memory.url
    finally:
        memory.stop()


@pytest.fixture
def client(settings: Settings, gateway_url: str, memory_url: str) -> Iterator[TestClient]:
    settings = settings.model_copy(
        update={
            "llm_gateway_url": gateway_url,
            "memory_service_url": memory_url,
            "service_token": SecretStr(STACK_SERVICE_TOKEN),
        }
    )
    yield from pipeline_client(fast_loops(settings))


@pytest.fixture
def queue(redis_base_url: str) -> Iterator[redis.Redis]:
    # memory-service's Redis DB 0, where its ingestion queue lives.
    connection = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    try:
        yield connection
    finally:
        connection.close()


def queued(queue: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in queue.lrange(QUEUE_KEY, 0, -1)]


def api_key(client: TestClient) -> tuple[str, dict[str, str]]:
    created = client.post("/api/v1/keys", json={"name": "producer", "rate_limit_rpm": 10_000}, headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    return str(body["id"]), {"X-API-Key": body["key"]}


def chat_turn(client: TestClient, headers: dict[str, str], text: str) -> dict[str, Any]:
    agent = client.get("/api/v1/agents", headers=ADMIN).json()[0]
    body = {"agent_id": agent["id"], "messages": [{"role": "user", "content": text}]}
    response = client.post("/api/v1/tasks", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return agent


@pytest.mark.parametrize("caller", ["admin", "api_key"])
def test_a_finished_chat_turn_queues_one_ingestion_item_with_its_source_and_owner(
    client: TestClient, queue: redis.Redis, caller: str
) -> None:
    key_id, headers = api_key(client) if caller == "api_key" else ("", ADMIN)
    agent = chat_turn(client, headers, "I moved to Lisbon last month.")

    [item] = wait_for(lambda: queued(queue), what="an ingestion item")
    assert item["owner"] == ("admin" if caller == "admin" else f"key:{key_id}")
    assert item["agent_id"] == agent["id"]
    assert item["source"]["kind"] == "chat"
    assert item["source"]["uri"] and item["source"]["title"]
    assert "I moved to Lisbon last month." in item["content"]
    # The orchestrator stored the exchange as an episode itself: formation adds facts, not a second copy.
    assert item["keep_episode"] is False


@pytest.mark.parametrize("caller", ["admin", "api_key"])
def test_a_finished_pipeline_task_queues_one_ingestion_item_with_its_source_and_owner(
    client: TestClient, queue: redis.Redis, caller: str
) -> None:
    key_id, headers = api_key(client) if caller == "api_key" else ("", ADMIN)
    response = client.post("/api/v1/pipeline/tasks", json={"goal": "write an add function"}, headers=headers)
    assert response.status_code == 202, response.text
    task = response.json()
    done = wait_for(lambda: task_in(client, task["id"], "complete", "failed"), what="terminal")
    assert done["status"] == "complete"

    [item] = wait_for(lambda: queued(queue), what="an ingestion item")
    assert item["owner"] == ("admin" if caller == "admin" else f"key:{key_id}")
    assert item["source"]["kind"] == "task"
    assert item["source"]["uri"] == f"nova:pipeline-task:{task['id']}"
    assert item["source"]["title"] == "write an add function"
    assert item["content"].startswith("Task: write an add function")
    assert item["metadata"]["task_id"] == task["id"]
