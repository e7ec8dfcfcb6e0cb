"""A site crawl with real processes: the real llm-gateway (a fake OpenAI-compatible model behind it) scores
the links, and memory-service's ingestion receives the pages with their crawl provenance."""

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fakes import FakeOpenAI, Reply, serve_in_thread
from fakes.server import free_port
from fakes.web_sites import SiteState, crawl_site
from stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from knowledge_worker.config import Settings
from knowledge_worker.documents import DocumentSink
from knowledge_worker.worker import KnowledgeWorker
from nova_common.embedded import EmbeddedRedis
from nova_common.http import ServiceClient
from nova_common.redis import redis_url_for
from nova_common.ssrf import SsrfGuard
from nova_common.testing import create_database, fake_model_gateway_env

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}
SERVICE = {"X-Service-Token": STACK_SERVICE_TOKEN}


def scores_for(request: dict[str, Any]) -> str:
    """The model's scoring: the install page is worth it, everything else is not."""
    prompt = request["messages"][-1]["content"]
    lines = [line for line in prompt.splitlines() if line[:1].isdigit() and ". " in line]
    scores = [
        {"n": int(line.split(".")[0]), "score": 0.9 if "/docs/install" in line else 0.1} for line in lines
    ]
    return json.dumps({"scores": scores})


@pytest.fixture(scope="module")
def services(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "knowledge"))
    logs = tmp_path_factory.mktemp("knowledge-stack")
    workspace = logs / "workspace"
    workspace.mkdir()
    model = FakeOpenAI(models=["gpt-4o-mini"])
    processes: list[ServiceProcess] = []
    with serve_in_thread(model.app) as upstream:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                fake_model_gateway_env(redis_url, upstream.url),
                logs,
            ).start(ready_within=240)
            processes.append(gateway)
            memory = ServiceProcess(
                "memory_service",
                {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "LLM_GATEWAY_URL": gateway.url},
                logs,
            ).start(ready_within=180)
            processes.append(memory)
            env = orchestrator_env(database_url, redis_url, gateway_url=gateway.url, workspace=workspace)
            orchestrator = ServiceProcess(
                "orchestrator",
                {
                    **env,
                    "MEMORY_SERVICE_URL": memory.url,
                    "CREDENTIAL_MASTER_KEY": "e2e-master-key-0123456789",
                    "SSRF_ALLOW_LOOPBACK_FOR_TESTS": "true",
                },
                logs,
            ).start(ready_within=180)
            processes.append(orchestrator)
            yield {
                "orchestrator": orchestrator.url,
                "memory": memory.url,
                "gateway": gateway.url,
                "model": model,
                "redis": redis_url,
            }
        finally:
            for process in reversed(processes):
                process.stop()


def crawl_once(services: dict[str, Any]) -> int:
    settings = Settings.model_validate({"per_host_interval_seconds": 0.05, "fetch_timeout_seconds": 2.0})

    async def run() -> int:
        redis = aioredis.Redis.from_url(
            redis_url_for("knowledge-worker", services["redis"]), decode_responses=True
        )
        clients = [
            ServiceClient(name, services[key], service_token=STACK_SERVICE_TOKEN)
            for name, key in (
                ("orchestrator", "orchestrator"),
                ("llm-gateway", "gateway"),
                ("memory", "memory"),
            )
        ]
        worker = KnowledgeWorker(
            settings,
            orchestrator=clients[0],
            gateway=clients[1],
            sink=DocumentSink(redis, clients[2]),
            guard=SsrfGuard(allow_loopback_for_tests=True),
        )
        try:
            return await worker.crawl_due()
        finally:
            for client in clients:
                await client.aclose()
            await redis.aclose()

    return asyncio.run(run())


def test_the_model_decides_which_links_are_followed_and_pages_reach_memory_as_crawl_sources(
    services: dict[str, Any], wait_until: Callable[..., Any]
) -> None:
    model: FakeOpenAI = services["model"]
    state = SiteState()
    port = free_port()
    with serve_in_thread(crawl_site(state, off_host=f"http://localhost:{port}/x"), port=port) as site:
        api = httpx.Client(base_url=services["orchestrator"], headers=ADMIN, timeout=60)
        source = api.post(
            "/api/v1/knowledge/sources",
            json={"name": "Nova docs", "kind": "site", "url": f"{site.url}/", "crawl": {"max_depth": 1}},
        ).json()
        original_take = model.script.take

        def answer(body: dict[str, Any], headers: dict[str, str]) -> Reply:
            original_take(body, headers)
            return Reply(content=scores_for(body))

        model.script.take = answer  # type: ignore[method-assign]
        assert crawl_once(services) == 1

    crawl = api.get(f"/api/v1/knowledge/sources/{source['id']}/crawls").json()[0]
    assert crawl["status"] == "complete", crawl
    # The start page and the one link the model scored high; the rest skipped as not relevant.
    assert crawl["fetched"] == 2 and crawl["skipped"]["low_relevance"] >= 3
    assert "/docs/config" not in state.paths()
    assert any(
        "knowledge_link_scoring" in json.dumps(r) or "Score how likely" in json.dumps(r)
        for r in model.script.requests
    )

    sources = wait_until(
        lambda: httpx.get(
            f"{services['memory']}/api/v1/memories/sources",
            params={"kind": "crawl"},
            headers=SERVICE,
            timeout=10,
        ).json()["items"],
        timeout=120,
    )
    assert {s["uri"] for s in sources} <= {f"{site.url}/", f"{site.url}/docs/install"}
    assert {s["title"] for s in sources} <= {"Nova docs", "Install"}
