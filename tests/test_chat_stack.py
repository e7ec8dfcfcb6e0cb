"""chat-api and chat-bridge on the whole stack: the fake OpenAI-compatible model → llm-gateway →
memory-service → orchestrator processes, then chat-api (a process) and chat-bridge (in-process, against the
fake Telegram and Slack servers). Every answer here is a real streamed answer of the pipeline."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from tests.fakes import FakeOpenAI, LiveServer, Reply, serve_in_thread
from tests.fakes.slack_fake import FakeSlack
from tests.fakes.telegram_fake import FakeTelegram
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env

from chat_bridge.config import Settings as BridgeSettings
from chat_bridge.main import create_app as create_bridge
from nova_common.embedded import EmbeddedRedis
from nova_common.testing import create_database, eventually

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}
ANSWER = "Here is **bold**, a list:\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('hi')\n```"
CHAT_API_DIR = Path(__file__).resolve().parents[1] / "chat-api"


@dataclass
class Stack:
    model: FakeOpenAI
    orchestrator: ServiceProcess
    chat_api: ServiceProcess
    redis_url: str
    api_key: str

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.chat_api.port}/ws/chat"


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "stack"))
    logs = tmp_path_factory.mktemp("chat-stack")
    (logs / "workspace").mkdir()
    model = FakeOpenAI(models=["gpt-4o-mini"])
    model.script.default = Reply(content=ANSWER)
    processes: list[ServiceProcess] = []
    with serve_in_thread(model.app) as upstream:
        try:
            gateway = ServiceProcess(
                "llm_gateway",
                {
                    "REDIS_URL": redis_url,
                    "OPENAI_API_KEY": "sk-fake",
                    "OPENAI_BASE_URL": f"{upstream.url}/v1",
                    "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
                    # Every turn must reach the fake model: the tests read what it was asked.
                    "RESPONSE_CACHE_TTL": "0",
                },
                logs,
            ).start()
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
            env = orchestrator_env(
                database_url, redis_url, gateway_url=gateway.url, workspace=logs / "workspace"
            )
            orchestrator = ServiceProcess(
                "orchestrator", {**env, "MEMORY_SERVICE_URL": memory.url}, logs
            ).start()
            processes.append(orchestrator)
            chat_api = ServiceProcess(
                "chat_api",
                {
                    "REDIS_URL": redis_url,
                    "ORCHESTRATOR_URL": orchestrator.url,
                    "REQUIRE_AUTH": "true",
                    "WS_SEND_BUFFER_BYTES": str(256 * 1024),
                    "DELIVERY_SWEEP_SECONDS": "0.5",
                    "ORCHESTRATOR_PROBE_MAX_SECONDS": "0.5",
                },
                logs,
            ).start()
            processes.append(chat_api)
            created = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                json={"name": "stack", "rate_limit_rpm": 10_000},
                headers=ADMIN,
            )
            created.raise_for_status()
            key = created.json()["key"]
            _use_agent_without_memory_recall(orchestrator.url, key, created.json()["id"], redis_url)
            yield Stack(model, orchestrator, chat_api, redis_url, key)
        finally:
            for process in reversed(processes):
                process.stop()


def _use_agent_without_memory_recall(orchestrator_url: str, key: str, key_id: str, redis_url: str) -> None:
    """The embedded PostgreSQL's pgvector dies with SIGILL on this machine's CPU during memory-service's vector
    search, which would end every turn with memory-service's 500. chat-api and the bridge answer with the agent
    stored under their Redis key, so they are given one that recalls no memories (a supported agent setting)."""
    agent = httpx.post(
        f"{orchestrator_url}/api/v1/agents",
        json={"config": {"name": "Nova", "memory_tiers": []}},
        headers={"X-API-Key": key},
    )
    agent.raise_for_status()
    base = redis_url.rsplit("/", 1)[0]
    # chat-api keeps one agent per owner of its sessions; the bridge one for itself.
    redis.Redis.from_url(f"{base}/3").set(f"nova:chat:agent_id:key:{key_id}", agent.json()["id"])
    redis.Redis.from_url(f"{base}/4").set("nova:bridge:agent_id", agent.json()["id"])


@pytest.fixture
def model(stack: Stack) -> Iterator[FakeOpenAI]:
    stack.model.script.reset()
    stack.model.script.default = Reply(content=ANSWER)
    yield stack.model


async def _frame(ws: websockets.ClientConnection) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 60))


async def _answer(ws: websockets.ClientConnection) -> tuple[str, list[dict]]:
    frames = []
    while True:
        frame = await _frame(ws)
        frames.append(frame)
        if frame["type"] in ("stream_end", "error"):
            return "".join(f.get("delta", "") for f in frames if f["type"] == "stream_chunk"), frames


def _contents(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if isinstance(m.get("content"), str)]


# chat-api


async def test_an_answer_streams_in_chunks_and_the_session_continues_after_a_reconnect(
    stack: Stack, model
) -> None:
    async with websockets.connect(f"{stack.ws_url}?token={stack.api_key}") as ws:
        session_id = (await _frame(ws))["session_id"]
        await ws.send(json.dumps({"type": "user", "content": "my name is Ada"}))
        first, frames = await _answer(ws)
    async with websockets.connect(f"{stack.ws_url}?token={stack.api_key}&session_id={session_id}") as ws:
        resumed = (await _frame(ws))["session_id"]
        await ws.send(json.dumps({"type": "user", "content": "what is my name?"}))
        second, second_frames = await _answer(ws)

    assert first == ANSWER, frames
    assert sum(f["type"] == "stream_chunk" for f in frames) > 1
    assert frames[-1]["type"] == "stream_end"
    assert resumed == session_id
    assert second == ANSWER, second_frames
    # The second turn reached the model with the first exchange before it.
    prompts = [_contents(request) for request in model.script.requests]
    assert any("my name is Ada" in p and ANSWER in p and "what is my name?" in p for p in prompts), prompts


async def test_a_message_queued_while_the_orchestrator_restarts_gets_its_real_answer(
    stack: Stack, model
) -> None:
    async with websockets.connect(f"{stack.ws_url}?token={stack.api_key}") as ws:
        await _frame(ws)
        stack.orchestrator.stop()
        await ws.send(json.dumps({"type": "user", "content": "still there?"}))
        queued = await _frame(ws)
        stack.orchestrator.start()
        answer, _ = await _answer(ws)

    assert queued["type"] == "queued"
    assert answer == ANSWER


async def test_a_slow_client_is_dropped_without_delaying_a_fast_one_on_the_same_session(
    stack: Stack, model
) -> None:
    # About 6 MB of frames: more than loopback TCP buffers (they grow to 4 MB) plus the 256 KiB send queue of a
    # client that never reads.
    long_answer = " ".join(f"{i:05d}" + "x" * 995 for i in range(6000))
    model.script.default = Reply(content=long_answer)
    async with websockets.connect(f"{stack.ws_url}?token={stack.api_key}") as fast:
        session_id = (await _frame(fast))["session_id"]
        slow = _raw_client_that_never_reads(
            stack.chat_api.port, f"/ws/chat?token={stack.api_key}&session_id={session_id}"
        )
        try:
            await fast.send(json.dumps({"type": "user", "content": "write a lot"}))
            answer, _ = await _answer(fast)
            slow_bytes = _drain(slow)
        finally:
            slow.close()

    assert answer == long_answer
    # The slow client's stream ends with a close frame carrying 1013 ("try again later": too slow).
    assert b"\x88" in slow_bytes and (1013).to_bytes(2, "big") + b"client too slow" in slow_bytes


def _raw_client_that_never_reads(port: int, path: str) -> socket.socket:
    sock = socket.socket()
    # A tiny receive window: the server's writes back up as soon as this client stops reading.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    # Wait until the server has taken this client into the session (its first frame names the session), so
    # the answer below cannot start streaming before the slow client is there to fall behind.
    sock.settimeout(30)
    greeting = b""
    while b"session_id" not in greeting:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the server closed the slow client's connection: {greeting[:200]!r}")
        greeting += chunk
    return sock


def _drain(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    received = bytearray()
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        if not data:
            break
        received += data
    return bytes(received)


@pytest.mark.skipif(
    shutil.which("node") is None or not Path("/usr/bin/chromium").exists(), reason="needs node and chromium"
)
def test_the_browser_ui_renders_the_streamed_answer_as_markdown(stack: Stack, model, tmp_path) -> None:
    model.script.default = Reply(content=ANSWER, chunk_delay=0.05)
    browser_dir = CHAT_API_DIR / "tests" / "browser"
    if not (browser_dir / "node_modules" / "playwright-core").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=browser_dir, check=True, timeout=300)
    result = subprocess.run(
        [
            "node",
            str(browser_dir / "chat_ui.mjs"),
            stack.chat_api.url,
            stack.api_key,
            "show me markdown",
            str(tmp_path / "ui.png"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    page = json.loads(result.stdout.strip().splitlines()[-1])

    answer = next(b for b in page["before"] if b["role"] == "assistant")["html"]
    assert page["sawCursor"]
    assert "<strong>bold</strong>" in answer
    assert "<ul><li>one</li><li>two</li></ul>" in answer
    assert "<table>" in answer and "<td>1</td>" in answer
    # innerHTML serialises text back without escaping quotes.
    assert "<pre><code class=\"language-python\">print('hi')</code></pre>" in answer
    assert 'class="cursor"' not in answer


# chat-bridge


@pytest.fixture
def bridge_settings(stack: Stack, nova_env: dict[str, str]) -> Callable[..., BridgeSettings]:
    def make(**overrides: Any) -> BridgeSettings:
        return BridgeSettings(
            redis_url=stack.redis_url,
            orchestrator_url=stack.orchestrator.url,
            telegram_poll_timeout_seconds=1,
            **overrides,
        )

    return make


@pytest.fixture
def telegram() -> Iterator[tuple[FakeTelegram, LiveServer]]:
    fake = FakeTelegram(token="123456:STACK-telegram-token")
    with serve_in_thread(fake.app()) as server:
        yield fake, server


def _wait(condition, within: float = 60.0):  # type: ignore[no-untyped-def]
    return eventually(condition, timeout=within, interval=0.05)


def test_telegram_splits_a_long_answer_and_falls_back_to_plain_text_when_markdown_is_refused(
    stack: Stack, model, telegram, bridge_settings
) -> None:
    fake, server = telegram
    long_answer = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum " * 60 for i in range(12))
    model.script.push(Reply(content=long_answer), Reply(content="See [the docs](http://example.com for more"))
    settings = bridge_settings(
        telegram_bot_token=fake.token, telegram_api_url=f"{server.url}/bot", telegram_allowed_chat_ids=["5"]
    )
    with serve_in_thread(create_bridge(settings)):
        fake.push_update(fake.text_update("tell me a lot", chat_id=5, user_id=5))
        _wait(lambda: sum(len(m.text) for m in fake.messages_to(5)) >= len(long_answer) - 100)
        parts = fake.messages_to(5)
        count = len(parts)
        fake.push_update(fake.text_update("a link please", chat_id=5, user_id=5))
        fallback = _wait(lambda: len(fake.messages_to(5)) > count and fake.messages_to(5)[count:])

    assert len(parts) > 1
    assert all(len(p.text) <= 4096 for p in parts) and all(p.parse_mode == "Markdown" for p in parts)
    assert " ".join(" ".join(p.text for p in parts).split()) == " ".join(long_answer.split())
    assert (5, "typing") in fake.chat_actions
    assert any("can't parse entities" in description for _, description in fake.rejected)
    assert fallback[0].parse_mode is None and fallback[0].text == "See [the docs](http://example.com for more"


def test_slack_answers_a_mention_in_thread_in_mrkdwn_and_the_slash_command_in_channel(
    stack: Stack, model, bridge_settings
) -> None:
    fake = FakeSlack(bot_token="xoxb-stack")
    with serve_in_thread(fake.app()) as server:
        fake.url = server.url
        settings = bridge_settings(
            slack_bot_token="xoxb-stack",
            slack_signing_secret="stack-signing-secret-0123456789",
            slack_api_url=f"{server.url}/api/",
            slack_allowed_channel_ids=["C0STACK"],
        )
        with serve_in_thread(create_bridge(settings)) as bridge:
            body = fake.mention("summarise", channel="C0STACK")
            fake.deliver(
                f"{bridge.url}/slack/events", json.dumps(body).encode(), "stack-signing-secret-0123456789"
            )
            reply = _wait(lambda: fake.replies_in("C0STACK"))[0]
            fake.deliver(
                f"{bridge.url}/slack/events",
                fake.slash_command("hello", channel="C0STACK"),
                "stack-signing-secret-0123456789",
                form=True,
            )
            response = _wait(lambda: fake.responses)[0]

    assert reply.thread_ts == body["event"]["ts"]
    assert "*bold*" in reply.text and "• one" in reply.text and "**" not in reply.text
    assert response["response_type"] == "in_channel" and "*bold*" in response["text"]
