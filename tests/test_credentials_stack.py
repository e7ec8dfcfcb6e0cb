"""One credential check for the stack, across real orchestrator and llm-gateway processes with auth on.

A key's `rate_limit_rpm` is one window whichever service a request reaches (not one per service), and a key
revoked in the orchestrator is refused by the gateway within the stated bound (`KEY_CACHE_SECONDS`).
"""

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.fakes import FakeOpenAI, serve_in_thread
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env

from nova_common.credentials import KEY_CACHE_SECONDS
from nova_common.embedded import EmbeddedRedis
from nova_common.testing import create_database

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}


@dataclass
class Stack:
    orchestrator: ServiceProcess
    gateway: ServiceProcess

    def new_key(self, rate_limit_rpm: int) -> tuple[str, dict[str, str]]:
        created = httpx.post(
            f"{self.orchestrator.url}/api/v1/keys",
            json={"name": f"k{time.monotonic_ns()}", "rate_limit_rpm": rate_limit_rpm},
            headers=ADMIN,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        return created.json()["id"], {"Authorization": f"Bearer {created.json()['key']}"}

    def via_orchestrator(self, headers: dict[str, str]) -> int:
        return httpx.get(f"{self.orchestrator.url}/api/v1/agents", headers=headers, timeout=30).status_code

    def via_gateway(self, headers: dict[str, str]) -> int:
        return httpx.get(f"{self.gateway.url}/v1/models", headers=headers, timeout=30).status_code


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "credentials"))
    logs = tmp_path_factory.mktemp("credentials-stack")
    (logs / "workspace").mkdir()
    local = FakeOpenAI(models=["smollm2-135m"], owned_by="me")
    with serve_in_thread(local.app) as local_server:
        # Each needs the other's address: the orchestrator's port is chosen before the gateway starts.
        orchestrator = ServiceProcess("orchestrator", {}, logs)
        gateway = ServiceProcess(
            "llm_gateway",
            {
                "REDIS_URL": redis_url,
                "LOCAL_MODEL_URL": local_server.url,
                "ORCHESTRATOR_URL": orchestrator.url,
                "REQUIRE_AUTH": "true",
            },
            logs,
        )
        orchestrator.env = orchestrator_env(
            database_url, redis_url, gateway_url=gateway.url, workspace=logs / "workspace"
        )
        try:
            gateway.start(ready_within=180)
            orchestrator.start()
            yield Stack(orchestrator, gateway)
        finally:
            orchestrator.stop()
            gateway.stop()


def test_a_keys_limit_is_one_window_for_orchestrator_and_gateway_together(stack: Stack) -> None:
    _, headers = stack.new_key(rate_limit_rpm=4)
    admitted = [call(headers) for _ in range(2) for call in (stack.via_orchestrator, stack.via_gateway)]
    assert admitted == [200, 200, 200, 200]
    # Four requests spent the key's four per minute, whichever service counted them.
    assert stack.via_orchestrator(headers) == 429
    assert stack.via_gateway(headers) == 429


def test_a_revoked_key_is_refused_by_every_service_within_the_bound(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    key_id, headers = stack.new_key(rate_limit_rpm=1000)
    assert (stack.via_orchestrator(headers), stack.via_gateway(headers)) == (200, 200)

    revoked = httpx.delete(f"{stack.orchestrator.url}/api/v1/keys/{key_id}", headers=ADMIN, timeout=30)
    assert revoked.status_code == 204
    assert stack.via_orchestrator(headers) == 401  # the key table itself: at once
    # The gateway trusted its last answer for at most KEY_CACHE_SECONDS; give the poll a little slack.
    wait_until(lambda: stack.via_gateway(headers) == 401, timeout=KEY_CACHE_SECONDS + 5, interval=0.5)


def test_an_unknown_key_is_refused_by_both_services(stack: Stack) -> None:
    headers = {"Authorization": "Bearer sk-nova-not-a-real-key-0123456789abcdef"}
    assert (stack.via_orchestrator(headers), stack.via_gateway(headers)) == (401, 401)
