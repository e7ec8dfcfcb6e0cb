"""Research turns across real processes: the fake OpenAI-compatible model → llm-gateway → orchestrator, whose
web_search goes to a loopback fake SearXNG. A research chat turn is offered web_search and web_fetch for that
turn only; the model's search reaches the backend and its results come back to the model."""

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fakes import FakeOpenAI, Reply, ToolCallSpec, serve_in_thread
from tests.fakes.search_fake import FakeSearchBackend
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis
from nova_common.testing import create_database, fake_model_gateway_env

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}


@dataclass
class ResearchStack:
    model: FakeOpenAI
    search: FakeSearchBackend
    orchestrator: ServiceProcess
    agent_id: str
    api_key: str

    @property
    def url(self) -> str:
        return self.orchestrator.url


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ResearchStack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "research"))
    logs = tmp_path_factory.mktemp("research-stack")
    workspace = logs / "workspace"
    workspace.mkdir()
    model = FakeOpenAI(models=["gpt-4o-mini"])
    search = FakeSearchBackend()
    processes: list[ServiceProcess] = []
    with serve_in_thread(model.app) as upstream, serve_in_thread(search.app) as searxng:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                fake_model_gateway_env(redis_url, upstream.url),
                logs,
            ).start(ready_within=180)
            processes.append(gateway)
            env = orchestrator_env(
                database_url, redis_url, gateway_url=gateway.url, workspace=Path(workspace)
            )
            orchestrator = ServiceProcess(
                "orchestrator",
                {
                    **env,
                    "WEB_SEARCH_BACKEND": "searxng",
                    "WEB_SEARCH_SEARXNG_URL": searxng.url,
                    # The fake SearXNG is on loopback, which the SSRF guard refuses outside tests.
                    "SSRF_ALLOW_LOOPBACK_FOR_TESTS": "true",
                },
                logs,
            ).start()
            processes.append(orchestrator)
            # An agent without memory (no memory-service here) whose own tools leave out the web.
            agent = httpx.post(
                f"{orchestrator.url}/api/v1/agents",
                json={
                    "config": {
                        "name": "researcher",
                        "tools": ["read_file"],
                        "memory_tiers": [],
                        "max_context_tokens": 32_768,
                    }
                },
                headers=ADMIN,
            )
            assert agent.status_code == 201, agent.text
            key = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                json={"name": "research", "rate_limit_rpm": 10_000},
                headers=ADMIN,
            ).json()["key"]
            yield ResearchStack(model, search, orchestrator, agent.json()["id"], key)
        finally:
            for process in reversed(processes):
                process.stop()


@pytest.fixture
def model(stack: ResearchStack) -> Iterator[FakeOpenAI]:
    stack.model.script.reset()
    stack.search.queries.clear()
    yield stack.model


def _chat(stack: ResearchStack, message: str, headers: dict[str, str], **extra: Any) -> list[Any]:
    body = {"message": message, "agent_id": stack.agent_id} | extra
    response = httpx.post(f"{stack.url}/api/v1/chat/stream", json=body, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    events = []
    for line in response.text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    assert events[-1] == "[DONE]" and not any(e.get("error") for e in events[:-1]), events
    return events


def _tool_names(request: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools") or []}


def test_a_research_turn_is_offered_web_search_and_web_fetch_and_a_normal_turn_is_not(
    stack: ResearchStack, model: FakeOpenAI
) -> None:
    _chat(stack, "What is asyncio?", ADMIN)
    normal = _tool_names(model.script.last_request)
    assert "read_file" in normal and not normal & {"web_search", "web_fetch"}

    _chat(stack, "Research asyncio for me", ADMIN, research=True)
    assert {"read_file", "web_search", "web_fetch"} <= _tool_names(model.script.last_request)

    # For that turn only: the next turn without the flag is back to the agent's own tools.
    _chat(stack, "Thanks", ADMIN)
    assert not _tool_names(model.script.last_request) & {"web_search", "web_fetch"}


def test_a_research_turn_of_an_api_key_is_offered_the_web_tools_within_the_key_policy(
    stack: ResearchStack, model: FakeOpenAI
) -> None:
    key = {"X-API-Key": stack.api_key}
    config = {
        "name": "key-researcher",
        "tools": ["read_file"],
        "memory_tiers": [],
        "max_context_tokens": 32_768,
    }
    own = httpx.post(f"{stack.url}/api/v1/agents", json={"config": config}, headers=key)
    assert own.status_code == 201, own.text
    _chat(stack, "Research asyncio for me", key, research=True, agent_id=own.json()["id"])
    assert {"read_file", "web_search", "web_fetch"} <= _tool_names(model.script.last_request)


def test_the_models_search_reaches_the_configured_searxng_and_its_results_come_back_to_the_model(
    stack: ResearchStack, model: FakeOpenAI
) -> None:
    model.script.push(
        Reply(tool_calls=[ToolCallSpec("web_search", {"query": "python asyncio tutorial"}, "call_s")]),
        Reply(content="asyncio is Python's library for concurrent code."),
    )
    events = _chat(stack, "Find me an asyncio tutorial", ADMIN, research=True)

    assert stack.search.queries == [{"q": "python asyncio tutorial", "format": "json"}]
    tool_results = [m for m in model.script.last_request["messages"] if m["role"] == "tool"]
    assert len(tool_results) == 1 and tool_results[0]["tool_call_id"] == "call_s"
    assert "https://docs.python.org/3/library/asyncio.html" in tool_results[0]["content"]
    assert "".join(e.get("delta") or "" for e in events[:-1]).endswith("library for concurrent code.")


def test_a_model_naming_web_search_outside_a_research_turn_is_refused_and_nothing_is_searched(
    stack: ResearchStack, model: FakeOpenAI
) -> None:
    # An agent with every tool (an empty list): only the research flag stands between it and web_search.
    config = {"name": "all-tools", "tools": [], "memory_tiers": [], "max_context_tokens": 32_768}
    agent = httpx.post(f"{stack.url}/api/v1/agents", json={"config": config}, headers=ADMIN)
    assert agent.status_code == 201, agent.text
    model.script.push(
        Reply(tool_calls=[ToolCallSpec("web_search", {"query": "anything"}, "call_s")]),
        Reply(content="I could not search."),
    )
    _chat(stack, "Search for anything", ADMIN, agent_id=agent.json()["id"])

    assert "web_search" not in _tool_names(model.script.requests[0])
    tool_results = [m for m in model.script.last_request["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_results] == ["web_search is offered in research turns only"]
    assert stack.search.queries == []
