"""Memory per writer (issue 13): what a key's turns remember is recalled into that key's prompts only, never
into the admin's, and the memory tools search and save as the caller. Real processes: the fake
OpenAI-compatible model → llm-gateway → memory-service → orchestrator."""

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fakes import FakeOpenAI, Reply, ToolCallSpec, serve_in_thread
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis
from nova_common.testing import create_database, fake_model_gateway_env

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}


@dataclass
class Stack:
    model: FakeOpenAI
    url: str
    primary_id: str

    def key(self, name: str) -> dict[str, str]:
        created = httpx.post(
            f"{self.url}/api/v1/keys", json={"name": name, "rate_limit_rpm": 10_000}, headers=ADMIN
        )
        return {"X-API-Key": created.json()["key"]}

    def turn(self, text: str, headers: dict[str, str]) -> dict[str, Any]:
        body = {"agent_id": self.primary_id, "messages": [{"role": "user", "content": text}]}
        response = httpx.post(f"{self.url}/api/v1/tasks", json=body, headers=headers, timeout=120)
        assert response.status_code == 200, response.text
        return response.json()

    def system_prompt(self) -> str:
        content: str = self.model.script.last_request["messages"][0]["content"]
        return content


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "memory_per_writer"))
    logs = tmp_path_factory.mktemp("memory-per-writer")
    workspace: Path = logs / "workspace"
    workspace.mkdir()
    model = FakeOpenAI(models=["gpt-4o-mini"])
    processes: list[ServiceProcess] = []
    with serve_in_thread(model.app) as upstream:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                fake_model_gateway_env(redis_url, upstream.url),
                logs,
            ).start(ready_within=180)
            processes.append(gateway)
            memory = ServiceProcess(
                "memory_service",
                {
                    "REDIS_URL": redis_url,
                    "DATABASE_URL": database_url,
                    "LLM_GATEWAY_URL": gateway.url,
                    # The fake model is scripted turn by turn: no extraction or consolidation calls in between.
                    "INGEST_ENABLED": "false",
                    "CONSOLIDATION_ENABLED": "false",
                },
                logs,
            ).start()
            processes.append(memory)
            env = orchestrator_env(database_url, redis_url, gateway_url=gateway.url, workspace=workspace)
            orchestrator = ServiceProcess(
                "orchestrator", {**env, "MEMORY_SERVICE_URL": memory.url}, logs
            ).start()
            processes.append(orchestrator)
            primary = httpx.get(f"{orchestrator.url}/api/v1/agents", headers=ADMIN).json()[0]
            yield Stack(model, orchestrator.url, primary["id"])
        finally:
            for process in reversed(processes):
                process.stop()


def test_a_keys_conversation_is_recalled_for_that_key_but_never_into_the_admins_prompt(stack: Stack) -> None:
    key_a = stack.key("a")
    stack.model.script.reset()
    stack.model.script.push(Reply(content="Noted: your locker code is 4711."))
    stack.turn("Please remember that my locker code is 4711.", key_a)

    stack.model.script.push(Reply(content="I do not know."))
    stack.turn("What is my locker code?", ADMIN)
    assert "4711" not in stack.system_prompt()

    stack.model.script.push(Reply(content="I do not know."))
    stack.turn("What is my locker code?", stack.key("b"))
    assert "4711" not in stack.system_prompt()

    stack.model.script.push(Reply(content="It is 4711."))
    stack.turn("What is my locker code?", key_a)
    assert "What you remember" in stack.system_prompt() and "4711" in stack.system_prompt()


def test_a_fact_saved_by_a_keys_turn_is_found_by_that_keys_search_only(stack: Stack) -> None:
    key_a, key_b = stack.key("fact-a"), stack.key("fact-b")
    stack.model.script.reset()
    stack.model.script.push(
        Reply(
            tool_calls=[ToolCallSpec("save_fact", {"category": "pets", "key": "dog", "content": "Rex"}, "s1")]
        ),
        Reply(content="Saved."),
    )
    saved = stack.turn("Remember my dog is called Rex", key_a)
    assert saved["steps"][0]["is_error"] is False, saved["steps"]

    search = ToolCallSpec("search_memory", {"query": "what is the dog called"}, "q1")
    stack.model.script.push(Reply(tool_calls=[search]), Reply(content="Nothing."))
    found_by_b = stack.turn("What is my dog called?", key_b)
    assert "Rex" not in found_by_b["steps"][0]["result"]

    stack.model.script.push(Reply(tool_calls=[search]), Reply(content="Nothing."))
    found_by_admin = stack.turn("What is my dog called?", ADMIN)
    assert "Rex" not in found_by_admin["steps"][0]["result"]

    stack.model.script.push(Reply(tool_calls=[search]), Reply(content="Rex."))
    found_by_a = stack.turn("What is my dog called?", key_a)
    assert "Rex" in found_by_a["steps"][0]["result"]
