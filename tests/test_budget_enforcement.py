"""Issue 16, "a budget that actually binds", across real processes: usage records → orchestrator's daily spend →
cortex's budget tier, published in Redis DB 1 → llm-gateway holding cortex's calls to it.

Spend is driven up with usage records written the way the orchestrator's usage consumer writes them; cortex
runs for real and publishes the tier each cycle; the test calls the gateway as cortex does (service token and
`X-Nova-Caller: cortex`) and watches the model it gets fall tier by tier, until it is refused, while the
local model and callers other than cortex are still served.
"""

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from tests.fakes import FakeOpenAI, serve_in_thread
from tests.stack import STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis, free_port
from nova_common.redis import redis_url_for
from nova_common.testing import create_database
from nova_contracts.cortex import BUDGET_TIER_CONFIG_KEY
from nova_contracts.llm import CALLER_HEADER, CORTEX_CALLER
from nova_contracts.orchestrator import config_redis_key

SERVICE = {"X-Service-Token": STACK_SERVICE_TOKEN}
CORTEX = {**SERVICE, CALLER_HEADER: CORTEX_CALLER}
LOCAL_MODEL = "smollm2-135m"
USER = [{"role": "user", "content": "plan the next step of the goal"}]
DAILY_BUDGET_USD = 1.0


@dataclass
class Stack:
    gateway: ServiceProcess
    orchestrator: ServiceProcess
    cortex: ServiceProcess
    cloud: FakeOpenAI
    local: FakeOpenAI
    database_url: str
    redis_url: str

    def spend(self, cost_usd: float) -> None:
        """One usage record of `cost_usd` today, as the orchestrator stores what the gateway reports."""

        async def insert() -> None:
            conn = await asyncpg.connect(self.database_url)
            try:
                await conn.execute(
                    """INSERT INTO usage_events (id, provider, model, cost_usd, created_at)
                       VALUES (gen_random_uuid(), 'openai', 'openai/gpt-4.1', $1, now())""",
                    cost_usd,
                )
            finally:
                await conn.close()

        asyncio.run(insert())

    def published_tier(self) -> str | None:
        client = redis.Redis.from_url(redis_url_for("llm-gateway", self.redis_url), decode_responses=True)
        try:
            value = client.get(config_redis_key(BUDGET_TIER_CONFIG_KEY))
        finally:
            client.close()
        return None if value is None else str(value).strip('"')

    def cortex_budget(self) -> dict[str, Any]:
        response = httpx.get(f"{self.cortex.url}/api/v1/cortex/budget", headers=SERVICE, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def resolved_for_cortex(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.gateway.url}/v1/models/resolve",
            params={"task_type": "planning"},
            headers=CORTEX,
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        return body

    def complete(self, headers: dict[str, str], **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.url}/complete", json={"messages": USER, **body}, headers=headers, timeout=30
        )


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "budget"))
    logs: Path = tmp_path_factory.mktemp("budget-stack")
    cloud = FakeOpenAI(models=["gpt-4.1", "gpt-4o-mini", "llama-3.3-70b-versatile", "llama-3.1-8b-instant"])
    local = FakeOpenAI(models=[LOCAL_MODEL], owned_by="me")  # plays the llama.cpp server of `make run`
    processes: list[ServiceProcess] = []
    with serve_in_thread(cloud.app) as cloud_server, serve_in_thread(local.app) as local_server:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                {
                    "REDIS_URL": redis_url,
                    # OpenAI (best and cheap models) and Groq (mid and cheap) both answered by the fake.
                    "OPENAI_API_KEY": "sk-test-openai-key-0123456789",
                    "OPENAI_BASE_URL": f"{cloud_server.url}/v1",
                    "GROQ_API_KEY": "gsk-test-groq-key-0123456789",
                    "GROQ_BASE_URL": f"{cloud_server.url}/v1",
                    "LOCAL_MODEL_URL": local_server.url,
                    "LLM_ROUTING_STRATEGY": "cloud-first",
                    "RESPONSE_CACHE_TTL": "0",
                    "CONFIG_REFRESH_SECONDS": "0.5",
                },
                logs,
            ).start(ready_within=180)
            processes.append(gateway)
            env = orchestrator_env(database_url, redis_url, gateway_url=gateway.url, workspace=logs)
            orchestrator = ServiceProcess("orchestrator", env, logs).start()
            processes.append(orchestrator)
            cortex = ServiceProcess(
                "cortex",
                {
                    "REDIS_URL": redis_url,
                    "ORCHESTRATOR_URL": orchestrator.url,
                    "LLM_GATEWAY_URL": gateway.url,
                    "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # down: memory writes are skipped
                    "CORTEX_DAILY_BUDGET_USD": str(DAILY_BUDGET_USD),
                    "CORTEX_ACTIVE_INTERVAL": "0.2",
                    "CORTEX_IDLE_INTERVAL": "0.5",
                    "CORTEX_LEASE_SECONDS": "3",
                },
                logs,
            ).start()
            processes.append(cortex)
            yield Stack(gateway, orchestrator, cortex, cloud, local, database_url, redis_url)
        finally:
            for process in reversed(processes):
                process.stop()


def test_cortex_gets_cheaper_models_as_spend_rises_and_is_refused_at_tier_none_while_others_are_served(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    # Nothing spent: tier best, cortex's planning call gets the best configured model.
    wait_until(lambda: stack.published_tier() == "best", timeout=60)
    wait_until(lambda: stack.resolved_for_cortex().get("budget_tier") is None, timeout=30)
    answer = stack.complete(CORTEX, task_type="planning")
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "openai/gpt-4.1"

    # 60 % spent: mid. A planning call (best tier) gets the best mid-tier model instead.
    stack.spend(0.6 * DAILY_BUDGET_USD)
    wait_until(lambda: stack.published_tier() == "mid", timeout=60)
    wait_until(lambda: stack.resolved_for_cortex().get("budget_tier") == "mid", timeout=30)
    assert stack.cortex_budget()["tier"] == "mid"
    answer = stack.complete(CORTEX, task_type="planning")
    assert answer.status_code == 200 and answer.json()["model"] == "groq/llama-3.3-70b-versatile"

    # 85 % spent: cheap. Even a model named outright is downgraded to the best cheap one.
    stack.spend(0.25 * DAILY_BUDGET_USD)
    wait_until(lambda: stack.published_tier() == "cheap", timeout=60)
    wait_until(lambda: stack.resolved_for_cortex().get("budget_tier") == "cheap", timeout=30)
    answer = stack.complete(CORTEX, model="openai/gpt-4.1")
    assert answer.status_code == 200 and answer.json()["model"] == "groq/llama-3.1-8b-instant"

    # 105 % spent: none. A cloud model is refused with 429 until UTC midnight...
    stack.spend(0.2 * DAILY_BUDGET_USD)
    wait_until(lambda: stack.published_tier() == "none", timeout=60)
    wait_until(lambda: stack.resolved_for_cortex().get("budget_tier") == "none", timeout=30)
    assert stack.cortex_budget()["percent_used"] >= 100
    cloud_calls = len(stack.cloud.script.requests)
    refused = stack.complete(CORTEX, model="groq/llama-3.1-8b-instant")
    assert refused.status_code == 429, refused.text
    assert "budget" in refused.json()["detail"] and "'none'" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
    v1 = httpx.post(
        f"{stack.gateway.url}/v1/chat/completions",
        json={"model": "openai/gpt-4o-mini", "messages": USER},
        headers=CORTEX,
        timeout=30,
    )
    assert v1.status_code == 429 and "budget" in v1.json()["error"]["message"]
    assert len(stack.cloud.script.requests) == cloud_calls  # nothing reached a paid provider

    # ...the local model still serves cortex, named or chosen by the gateway...
    local = stack.complete(CORTEX, model=LOCAL_MODEL)
    assert local.status_code == 200 and local.json()["model"] == LOCAL_MODEL
    chosen = stack.complete(CORTEX, task_type="planning")
    assert chosen.status_code == 200 and chosen.json()["model"] == LOCAL_MODEL

    # ...and a call that is not cortex's is not held to cortex's budget.
    other = stack.complete(SERVICE, model="openai/gpt-4.1")
    assert other.status_code == 200 and other.json()["model"] == "openai/gpt-4.1"
