"""The whole intel path with real processes: a recorded RSS feed on loopback → the poller → the
orchestrator (items stored once) → memory-service's ingestion (provenance kept) → the digest through the real
llm-gateway (a fake OpenAI-compatible model behind it) → a recommendation → approved → a goal."""

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import FakeOpenAI, Reply, serve_in_thread
from fakes.web_sites import SiteState, feed_site
from stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from intel_worker.fetch import FeedFetcher
from intel_worker.poller import FeedPoller, PollSummary
from nova_common.embedded import EmbeddedRedis
from nova_common.http import ServiceClient
from nova_common.pacing import PerHostPacer
from nova_common.ssrf import SsrfGuard
from nova_common.testing import create_database, fake_model_gateway_env

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}
SERVICE = {"X-Service-Token": STACK_SERVICE_TOKEN}
DIGEST = {
    "recommendations": [
        {
            "theme": "efficient inference",
            "title": "Evaluate speculative decoding on the local backend",
            "summary": "TGI reports 2.3x throughput; a distilled 8B draft model could serve as the drafter.",
            "relevance": 0.8,
            "items": [1, 2],
        }
    ]
}


@pytest.fixture(scope="module")
def services(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "intel"))
    logs = tmp_path_factory.mktemp("intel-stack")
    workspace = logs / "workspace"
    workspace.mkdir()
    model = FakeOpenAI(models=["gpt-4o-mini"])
    # Every completion answers the digest: memory formation's extraction shares the model and may ask first.
    model.script.default = Reply(content=json.dumps(DIGEST))
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
                {**env, "MEMORY_SERVICE_URL": memory.url, "SSRF_ALLOW_LOOPBACK_FOR_TESTS": "true"},
                logs,
            ).start(ready_within=180)
            processes.append(orchestrator)
            yield {"orchestrator": orchestrator.url, "memory": memory.url, "model": model}
        finally:
            for process in reversed(processes):
                process.stop()


def poll(orchestrator_url: str, memory_url: str) -> PollSummary:
    async def run() -> PollSummary:
        orchestrator = ServiceClient("orchestrator", orchestrator_url, service_token=STACK_SERVICE_TOKEN)
        memory = ServiceClient("memory-service", memory_url, service_token=STACK_SERVICE_TOKEN)
        fetcher = FeedFetcher(
            SsrfGuard(allow_loopback_for_tests=True),
            timeout=10,
            max_bytes=1 << 20,
            pacer=PerHostPacer(0),
            user_agent="t",
        )
        poller = FeedPoller(
            orchestrator=orchestrator,
            memory=memory,
            fetcher=fetcher,
            feeds_per_poll=10,
            max_items_per_feed=25,
            digest_after_poll=True,
        )
        try:
            return await poller.poll_once()
        finally:
            await fetcher.aclose()
            await orchestrator.aclose()
            await memory.aclose()

    return asyncio.run(run())


def test_new_feed_items_reach_memory_with_provenance_and_become_a_recommendation_that_approves_into_a_goal(
    services: dict[str, Any], wait_until: Callable[..., Any], tmp_path: Path
) -> None:
    state = SiteState()
    with serve_in_thread(feed_site(state)) as site:
        api = httpx.Client(base_url=services["orchestrator"], headers=ADMIN, timeout=60)
        created = api.post("/api/v1/intel/feeds", json={"url": f"{site.url}/f/rss2.xml", "type": "rss"})
        assert created.status_code == 201, created.text
        summary = poll(services["orchestrator"], services["memory"])
    assert summary.new_items == 3 and summary.failed == 0, summary

    recommendations = api.get("/api/v1/intel/recommendations").json()
    assert [r["title"] for r in recommendations] == ["Evaluate speculative decoding on the local backend"]
    assert len(recommendations[0]["item_ids"]) == 2
    assert api.get("/api/v1/intel/stats").json()["undigested_items"] == 0

    sources = wait_until(
        lambda: httpx.get(
            f"{services['memory']}/api/v1/memories/sources",
            params={"kind": "feed"},
            headers=SERVICE,
            timeout=10,
        ).json()["items"],
        timeout=120,
    )
    assert {s["uri"] for s in sources} <= {
        "https://huggingface.co/blog/distill-70b",
        "https://huggingface.co/blog/tgi-speculative",
        "https://huggingface.co/blog/leaderboard-dec",
    }
    assert all(s["owner"] == "admin" for s in sources)

    approved = api.post(f"/api/v1/intel/recommendations/{recommendations[0]['id']}/approve").json()
    goal = api.get(f"/api/v1/goals/{approved['goal_id']}").json()
    assert goal["title"] == "Evaluate speculative decoding on the local backend"
    assert goal["metadata"]["source"] == "intel"
