"""Agent turns across real processes: the fake OpenAI-compatible model → llm-gateway → memory-service →
orchestrator. The model is scripted to call tools, so the tool loop, the memory round trip, MCP servers and
the usage stream are exercised end to end; nothing of Nova's own is replaced."""

import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.fakes import FakeOpenAI, Reply, ToolCallSpec, serve_in_thread
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis
from nova_common.testing import create_database, eventually, fake_model_gateway_env

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}
MCP_SERVER = (
    Path(__file__).resolve().parents[1] / "orchestrator" / "tests" / "mcp_fixtures" / "tool_server.py"
)


@dataclass
class Stack:
    model: FakeOpenAI
    orchestrator: ServiceProcess
    workspace: Path
    primary_id: str
    api_key: str

    @property
    def url(self) -> str:
        return self.orchestrator.url


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "agents"))
    logs = tmp_path_factory.mktemp("agent-stack")
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
                "orchestrator",
                {
                    **env,
                    "MEMORY_SERVICE_URL": memory.url,
                    "AGENT_MAX_TOOL_ROUNDS": "3",
                    "MCP_PING_INTERVAL_SECONDS": "1",
                    "USAGE_BLOCK_MS": "200",
                },
                logs,
            ).start()
            processes.append(orchestrator)
            primary = httpx.get(f"{orchestrator.url}/api/v1/agents", headers=ADMIN).json()[0]
            # Room for every built-in and MCP tool definition in the tools share of the context.
            httpx.patch(
                f"{orchestrator.url}/api/v1/agents/{primary['id']}/config",
                json={"max_context_tokens": 32_768},
                headers=ADMIN,
            ).raise_for_status()
            key = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                json={"name": "e2e", "rate_limit_rpm": 10_000},
                headers=ADMIN,
            ).json()["key"]
            yield Stack(model, orchestrator, workspace, primary["id"], key)
        finally:
            for process in reversed(processes):
                process.stop()


@pytest.fixture
def model(stack: Stack) -> Iterator[FakeOpenAI]:
    stack.model.script.reset()
    yield stack.model


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    return eventually(predicate, timeout=timeout, interval=0.2)


def _task(stack: Stack, text: str, *, as_admin: bool = False, **extra: Any) -> dict[str, Any]:
    """A turn of the primary agent, as the stack's API key (held to the key policy) or as the admin."""
    body = {"agent_id": stack.primary_id, "messages": [{"role": "user", "content": text}], **extra}
    headers = ADMIN if as_admin else {"X-API-Key": stack.api_key}
    response = httpx.post(f"{stack.url}/api/v1/tasks", json=body, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def _sse(response: httpx.Response) -> list[Any]:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data:"):
            payload = line[5:].strip()
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def _chat(stack: Stack, message: str, session_id: str | None = None) -> tuple[str, list[Any]]:
    headers = {**ADMIN, **({"X-Session-Id": session_id} if session_id else {})}
    response = httpx.post(
        f"{stack.url}/api/v1/chat/stream", json={"message": message}, headers=headers, timeout=120
    )
    assert response.status_code == 200, response.text
    return response.headers["X-Session-Id"], _sse(response)


def _tool_names(request: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools") or []}


def test_the_agent_runs_a_multi_round_tool_loop_and_records_every_call(
    stack: Stack, model: FakeOpenAI
) -> None:
    model.script.push(
        Reply(
            tool_calls=[
                ToolCallSpec("write_file", {"path": "notes/hello.txt", "content": "hi there"}, "call_w")
            ]
        ),
        Reply(tool_calls=[ToolCallSpec("read_file", {"path": "notes/hello.txt"}, "call_r")]),
        Reply(content="The note says: hi there"),
    )
    result = _task(stack, "Write a note, then read it back to me")

    assert (result["status"], result["response"]) == ("completed", "The note says: hi there")
    steps = [(s["round"], s["call"]["name"], s["is_error"], s["result"]) for s in result["steps"]]
    assert steps == [
        (1, "write_file", False, "wrote 8 bytes to notes/hello.txt"),
        (2, "read_file", False, "hi there"),
    ]
    assert [c["name"] for c in result["tool_calls"]] == ["write_file", "read_file"]
    assert (stack.workspace / "notes" / "hello.txt").read_text() == "hi there"
    # Every round went back to the model with the results so far.
    first, _, third = model.script.requests
    # Shell and git stay off until the admin enables them (tool_permissions), so the model is not offered them.
    assert {"write_file", "read_file", "web_fetch"} <= _tool_names(first)
    assert "run_shell" not in _tool_names(first)
    tool_results = [m for m in third["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tool_results] == [
        ("call_w", "wrote 8 bytes to notes/hello.txt"),
        ("call_r", "hi there"),
    ]
    assert httpx.get(f"{stack.url}/api/v1/tasks/{result['task_id']}", headers=ADMIN).json() == result


def test_the_tool_loop_stops_at_its_round_limit_and_the_model_answers_without_tools(
    stack: Stack, model: FakeOpenAI
) -> None:
    model.script.default = Reply(tool_calls=[ToolCallSpec("list_dir", {"path": "."}, "call_loop")])
    model.script.push(*[Reply(tool_calls=[ToolCallSpec("list_dir", {}, f"call_{i}")]) for i in range(3)])
    model.script.push(Reply(content="I listed the workspace three times."))
    result = _task(stack, "Keep listing the workspace")

    assert len(result["steps"]) == 3 and result["response"] == "I listed the workspace three times."
    final = model.script.last_request
    assert "tools" not in final or not final["tools"]
    assert "tool budget of this turn is used up" in final["messages"][-1]["content"]


def test_dashboard_chat_streams_status_tool_and_text_events_and_persists_both_messages(
    stack: Stack, model: FakeOpenAI
) -> None:
    model.script.push(
        Reply(tool_calls=[ToolCallSpec("list_dir", {"path": "."}, "call_ls")]),
        Reply(content="Your workspace holds a notes folder and a few more things."),
    )
    session_id, events = _chat(stack, "What is in my workspace?")

    assert events[-1] == "[DONE]"
    statuses = [e["status"] for e in events[:-1] if e.get("status")]
    assert "recalling memories" in statuses and "calling list_dir" in statuses
    metas = [e["meta"] for e in events[:-1] if e.get("meta")]
    assert any("tool_result" in m and m["tool_result"]["name"] == "list_dir" for m in metas)
    deltas = [e["delta"] for e in events[:-1] if e.get("delta")]
    assert len(deltas) > 1 and "".join(deltas) == "Your workspace holds a notes folder and a few more things."

    conversation_id = metas[0]["conversation_id"]
    stored = httpx.get(f"{stack.url}/api/v1/conversations/{conversation_id}", headers=ADMIN).json()
    assert stored["session_id"] == session_id
    assert [(m["role"], m["content"][:20]) for m in stored["messages"]] == [
        ("user", "What is in my worksp"),
        ("assistant", "Your workspace holds"),
    ]
    assert stored["messages"][1]["metadata"]["steps"][0]["call"]["name"] == "list_dir"


def test_a_chat_request_can_override_the_model(stack: Stack, model: FakeOpenAI) -> None:
    model.script.push(Reply(content="Answered by the other model."))
    response = httpx.post(
        f"{stack.url}/api/v1/chat/stream",
        json={"message": "hi", "model": "openai/fake-model"},
        headers=ADMIN,
        timeout=60,
    )
    assert model.script.last_request["model"] == "fake-model"
    answered_by = [e["meta"]["model"] for e in _sse(response)[:-1] if "message_id" in e.get("meta", {})]
    assert len(answered_by) == 1 and "fake-model" in answered_by[0]


def test_memory_written_after_one_chat_is_recalled_in_the_next(stack: Stack, model: FakeOpenAI) -> None:
    model.script.push(Reply(content="Noted: your cat is called Miso."))
    _chat(stack, "Please remember that my cat is called Miso.")

    model.script.push(Reply(content="Your cat is called Miso."))
    _, events = _chat(stack, "What is my cat called?")  # a new session: nothing shared but memory

    system_prompt = model.script.last_request["messages"][0]["content"]
    assert "What you remember" in system_prompt and "Miso" in system_prompt
    metas = [e["meta"] for e in events[:-1] if isinstance(e, dict) and e.get("meta")]
    # Why each memory was recalled: its fused score and the arms behind it, beside its (shortened) text.
    recalled = next(m["recalled"] for m in metas if m.get("memories"))
    miso = next(r for r in recalled if "Miso" in r["content"])
    assert miso["score"] is not None and (
        miso["vector_score"] is not None or miso["keyword_score"] is not None
    )
    # Where the time before the model call went, phase by phase, recall included.
    timings = next(m["timings_ms"] for m in metas if "timings_ms" in m)
    assert {"request", "auth", "agent", "conversation", "recall", "prompt"} <= set(timings)
    assert {"recall_embed", "recall_search"} <= set(timings)
    # The explanation is stored with the answer, so it is still there after a reload.
    stored = httpx.get(
        f"{stack.url}/api/v1/conversations/{metas[0]['conversation_id']}", headers=ADMIN
    ).json()
    assert [r["id"] for r in stored["messages"][1]["metadata"]["recalled"]] == [r["id"] for r in recalled]


def test_an_mcp_server_is_called_by_the_agent_and_survives_a_peers_crash(
    stack: Stack, model: FakeOpenAI
) -> None:
    servers = {}
    for name in ("echo", "notes"):
        body = {"name": name, "command": sys.executable, "args": [str(MCP_SERVER), name]}
        created = httpx.post(f"{stack.url}/api/v1/mcp-servers", json=body, headers=ADMIN, timeout=60).json()
        assert created["state"] == "connected", created
        servers[name] = created["id"]
    listed = httpx.get(f"{stack.url}/api/v1/mcp-servers", headers=ADMIN).json()
    assert {s["name"]: s["state"] for s in listed} == {"echo": "connected", "notes": "connected"}

    model.script.push(
        Reply(tool_calls=[ToolCallSpec("mcp__echo__echo", {"text": "ping"}, "c1")]), Reply(content="ok")
    )
    called = _task(stack, "Echo ping through MCP", as_admin=True)
    assert (called["steps"][0]["result"], called["steps"][0]["is_error"]) == ("echo:ping", False)
    assert "mcp__notes__echo" in _tool_names(model.script.requests[0])

    model.script.push(
        Reply(tool_calls=[ToolCallSpec("mcp__echo__crash", {}, "c2")]), Reply(content="it crashed")
    )
    assert _task(stack, "Crash the echo server", as_admin=True)["steps"][0]["is_error"] is True
    crashed = wait_until(
        lambda: (
            (s := httpx.get(f"{stack.url}/api/v1/mcp-servers/{servers['echo']}", headers=ADMIN).json())[
                "state"
            ]
            == "error"
            and s
        )
    )
    assert "crash" in crashed["error"]

    model.script.push(
        Reply(tool_calls=[ToolCallSpec("mcp__notes__echo", {"text": "alive"}, "c3")]), Reply(content="ok")
    )
    still = _task(stack, "Use the notes server", as_admin=True)
    assert still["steps"][0]["result"] == "notes:alive"
    offered = _tool_names(model.script.requests[-2])
    assert "mcp__notes__echo" in offered and not any(n.startswith("mcp__echo__") for n in offered)

    reloaded = httpx.post(
        f"{stack.url}/api/v1/mcp-servers/{servers['echo']}/reload", headers=ADMIN, timeout=60
    )
    assert reloaded.json()["state"] == "connected"
    model.script.push(
        Reply(tool_calls=[ToolCallSpec("mcp__echo__echo", {"text": "back"}, "c4")]), Reply(content="ok")
    )
    assert _task(stack, "Echo again", as_admin=True)["steps"][0]["result"] == "echo:back"


def test_the_openai_compatible_endpoint_answers_as_the_primary_agent(stack: Stack, model: FakeOpenAI) -> None:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    assert httpx.get(f"{stack.url}/v1/models", headers=headers).json()["data"][0]["id"] == "nova"

    model.script.push(Reply(content="Hello from Nova."))
    body = {"model": "nova", "messages": [{"role": "user", "content": "Say hello"}]}
    completion = httpx.post(f"{stack.url}/v1/chat/completions", json=body, headers=headers, timeout=60).json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "Hello from Nova."
    # The primary agent's tools and identity came along.
    assert "You are Nova" in model.script.last_request["messages"][0]["content"]

    model.script.push(Reply(content="Streaming works fine."))
    streamed = httpx.post(
        f"{stack.url}/v1/chat/completions", json={**body, "stream": True}, headers=headers, timeout=60
    )
    chunks = _sse(streamed)
    assert chunks[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
    assert text == "Streaming works fine." and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert httpx.post(f"{stack.url}/v1/chat/completions", json=body).status_code == 401


def test_model_calls_reach_the_usage_table_through_the_gateways_stream(
    stack: Stack, model: FakeOpenAI
) -> None:
    model.script.push(Reply(content="Counting this call."))
    result = _task(stack, "Anything")
    events = wait_until(
        lambda: [
            e
            for e in httpx.get(f"{stack.url}/api/v1/usage?limit=200", headers=ADMIN).json()
            if e["task_id"] == result["task_id"]
        ]
    )
    assert events[0]["agent_id"] == stack.primary_id and events[0]["api_key_name"] == "e2e"
    summary = httpx.get(f"{stack.url}/api/v1/usage/summary?period=day", headers=ADMIN).json()
    assert summary["requests"] >= 1 and any("gpt-4o-mini" in m["model"] for m in summary["by_model"])


def test_a_chat_client_that_leaves_mid_answer_stops_the_model_and_keeps_what_was_written(
    stack: Stack, model: FakeOpenAI
) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    model.script.push(Reply(content=words, chunk_delay=0.05))
    with httpx.stream(
        "POST",
        f"{stack.url}/api/v1/chat/stream",
        json={"message": "Tell me a long story"},
        headers=ADMIN,
        timeout=60,
    ) as response:
        conversation_id = None
        for line in response.iter_lines():
            event = json.loads(line[5:]) if line.startswith("data:") and "[DONE]" not in line else {}
            conversation_id = conversation_id or event.get("meta", {}).get("conversation_id")
            if event.get("delta"):
                break  # the user closes the tab

    stored = wait_until(
        lambda: [
            m
            for m in httpx.get(f"{stack.url}/api/v1/conversations/{conversation_id}", headers=ADMIN).json()[
                "messages"
            ]
            if m["role"] == "assistant"
        ]
    )
    assert stored[0]["metadata"] == {"interrupted": True}
    assert words.startswith(stored[0]["content"]) and len(stored[0]["content"]) < len(words)
    wait_until(lambda: model.script.streams_cancelled == 1)


def test_a_recurring_request_in_chat_becomes_a_scheduled_goal_owned_by_the_caller(
    stack: Stack, model: FakeOpenAI
) -> None:
    model.script.push(
        Reply(
            tool_calls=[
                ToolCallSpec(
                    "create_goal",
                    {"title": "Review my PRs", "schedule_cron": "0 9 * * 1", "priority": 2},
                    "call_g",
                )
            ]
        ),
        Reply(content="Done: every Monday at 09:00 UTC I will remind you to review your PRs."),
    )
    result = _task(stack, "Remind me every Monday to review my PRs")

    step = result["steps"][0]
    assert (step["call"]["name"], step["is_error"]) == ("create_goal", False)
    assert "Review my PRs" in step["result"] and "Monday" in step["result"] and "next run" in step["result"]
    goals = httpx.get(f"{stack.url}/api/v1/goals", headers={"X-API-Key": stack.api_key}, timeout=30).json()
    [goal] = [g for g in goals if g["title"] == "Review my PRs"]
    assert (goal["created_by"], goal["schedule_cron"], goal["priority"]) == ("chat", "0 9 * * 1", 2)
    assert goal["owner"].startswith("key:") and goal["schedule_next_at"] is not None

    # A schedule the model gets wrong is the tool's error for the model to correct, not a failed turn.
    model.script.push(
        Reply(
            tool_calls=[ToolCallSpec("create_goal", {"title": "x", "schedule_cron": "mondays"}, "call_bad")]
        ),
        Reply(content="Sorry, I could not set that up."),
    )
    bad = _task(stack, "Remind me on mondays")
    assert bad["status"] == "completed"
    assert bad["steps"][0]["is_error"] is True and "cron" in bad["steps"][0]["result"]
