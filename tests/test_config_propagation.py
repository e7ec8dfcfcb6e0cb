"""Platform settings across real processes: the orchestrator stores and mirrors them, llm-gateway follows.

Issue 13, finding 9: `llm.default_chat_model` set to `"00"` and then removed left the gateway routing with
`"00"`. Here a removal must bring the gateway back to its own DEFAULT_CHAT_MODEL within seconds, and a
model id neither of the `<provider>/<model>` form nor served by the gateway is refused before it is stored.
"""

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from tests.fakes import FakeOpenAI, Reply, serve_in_thread
from tests.stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis
from nova_common.testing import create_database

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}
SERVICE = {"X-Service-Token": STACK_SERVICE_TOKEN}
ENV_DEFAULT_MODEL = "openai/gpt-4o-mini"
LOCAL_MODEL = "smollm2-135m"


@dataclass
class Stack:
    gateway: ServiceProcess
    orchestrator: ServiceProcess
    cloud: FakeOpenAI
    local: FakeOpenAI
    redis_url: str

    def set_config(self, key: str, value: Any) -> httpx.Response:
        return httpx.patch(
            f"{self.orchestrator.url}/api/v1/config/{key}", json={"value": value}, headers=ADMIN, timeout=30
        )

    def gateway_default_model(self) -> str | None:
        config = httpx.get(f"{self.gateway.url}/config", headers=SERVICE, timeout=10).json()
        model: str | None = config["default_chat_model"]
        return model

    def answering_model(self) -> str:
        """The model that answers a request naming none: the gateway's default model decides it."""
        response = httpx.post(
            f"{self.gateway.url}/complete",
            json={"messages": [{"role": "user", "content": "which model?"}]},
            headers=SERVICE,
            timeout=30,
        )
        response.raise_for_status()
        model: str = response.json()["model"]
        return model


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "config"))
    logs = tmp_path_factory.mktemp("config-stack")
    (logs / "workspace").mkdir()
    cloud = FakeOpenAI(models=["gpt-4o-mini"])
    # Plays the llama.cpp server of `make run`, so the gateway has a local model to list.
    local = FakeOpenAI(models=[LOCAL_MODEL], owned_by="me")
    processes: list[ServiceProcess] = []
    with serve_in_thread(cloud.app) as cloud_server, serve_in_thread(local.app) as local_server:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                {
                    "REDIS_URL": redis_url,
                    "OPENAI_API_KEY": "sk-fake",
                    "OPENAI_BASE_URL": f"{cloud_server.url}/v1",
                    "LOCAL_MODEL_URL": local_server.url,
                    "DEFAULT_CHAT_MODEL": ENV_DEFAULT_MODEL,
                    "LLM_ROUTING_STRATEGY": "local-first",
                    "RESPONSE_CACHE_TTL": "0",
                },
                logs,
            ).start(ready_within=180)
            processes.append(gateway)
            env = orchestrator_env(
                database_url, redis_url, gateway_url=gateway.url, workspace=logs / "workspace"
            )
            orchestrator = ServiceProcess("orchestrator", env, logs).start()
            processes.append(orchestrator)
            yield Stack(gateway, orchestrator, cloud, local, redis_url)
        finally:
            for process in reversed(processes):
                process.stop()


def test_removing_the_default_chat_model_brings_the_gateway_back_to_its_env_default(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    stack.local.script.default = Reply(content="local answer")
    stack.cloud.script.default = Reply(content="cloud answer")
    assert stack.answering_model() == ENV_DEFAULT_MODEL

    assert stack.set_config("llm.default_chat_model", LOCAL_MODEL).status_code == 200
    wait_until(lambda: stack.answering_model() == LOCAL_MODEL, timeout=30, interval=0.5)

    removed = stack.set_config("llm.default_chat_model", None)
    assert removed.status_code == 200 and removed.json()["value"] is None
    wait_until(lambda: stack.gateway_default_model() == ENV_DEFAULT_MODEL, timeout=30, interval=0.5)
    assert stack.answering_model() == ENV_DEFAULT_MODEL


def test_a_key_deleted_from_the_redis_mirror_is_dropped_by_the_gateway(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    assert stack.set_config("llm.routing_strategy", "cloud-first").status_code == 200
    wait_until(lambda: _gateway_strategy(stack) == "cloud-first", timeout=30, interval=0.5)
    config_db = redis.Redis.from_url(_db1(stack.redis_url), decode_responses=True)
    try:
        config_db.delete("nova:config:llm.routing_strategy")
    finally:
        config_db.close()
    wait_until(lambda: _gateway_strategy(stack) == "local-first", timeout=30, interval=0.5)
    stack.set_config("llm.routing_strategy", None)


def test_a_model_the_gateway_does_not_know_is_refused_with_422_and_not_stored(stack: Stack) -> None:
    refused = stack.set_config("llm.default_chat_model", "00")
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("llm.default_chat_model: '00' is neither")
    stored = httpx.get(
        f"{stack.orchestrator.url}/api/v1/config/llm.default_chat_model", headers=ADMIN, timeout=10
    ).json()
    assert stored["is_set"] is False
    assert stack.gateway_default_model() == ENV_DEFAULT_MODEL


def _gateway_strategy(stack: Stack) -> str:
    strategy: str = httpx.get(f"{stack.gateway.url}/config", headers=SERVICE, timeout=10).json()[
        "routing_strategy"
    ]
    return strategy


def _db1(redis_url: str) -> str:
    from nova_common.redis import redis_url_for

    return redis_url_for("llm-gateway", redis_url)
