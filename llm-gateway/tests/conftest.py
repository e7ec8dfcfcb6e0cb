"""Fixtures: a gateway app on the test Redis, optionally served on a real port, and the fake providers."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")  # see llm_gateway/__init__.py

# The fake provider servers live in the repo's top-level `tests/fakes`, shared with other services' tests;
# imported as top-level `fakes`, since several services have a `tests` folder and the name is ambiguous.
_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

import httpx  # noqa: E402
import pytest  # noqa: E402
from fakes import (  # noqa: E402
    FakeAnthropic,
    FakeChatGPT,
    FakeGemini,
    FakeOllama,
    FakeOpenAI,
    serve_in_thread,
)
from fastapi import FastAPI  # noqa: E402

from llm_gateway.config import Settings  # noqa: E402
from llm_gateway.main import create_app  # noqa: E402

SERVICE_TOKEN = "test-service-token-0123456789"
ADMIN_SECRET = "test-admin-secret-0123456789"
SERVICE_HEADERS = {"X-Service-Token": SERVICE_TOKEN}

# Provider credentials that may be set on a developer machine must not reach the tests.
_PROVIDER_ENV = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GROQ_API_KEY",
    "GEMINI_API_KEY",
    "CEREBRAS_API_KEY",
    "OPENROUTER_API_KEY",
    "GITHUB_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CHATGPT_ACCESS_TOKEN",
    "LLM_ROUTING_STRATEGY",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBED_MODEL",
    "INFERENCE_BACKEND",
    "INFERENCE_URL",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "REQUIRE_AUTH",
    "LOCAL_MODEL_URL",
]


@pytest.fixture
def service_headers() -> dict[str, str]:
    return dict(SERVICE_HEADERS)


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-Admin-Secret": ADMIN_SECRET}


@pytest.fixture
def gateway_env(nova_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_BASE_URL", "_MODEL")) or name.startswith(
            ("INFERENCE_", "CUSTOM_LLM_")
        ):
            monkeypatch.delenv(name, raising=False)
    # Subscription credential files are looked up in the home directory; point it somewhere empty.
    monkeypatch.setenv("HOME", str(tmp_path))
    return nova_env


def make_settings(redis_base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_base_url,
        # Nothing listens here: the local slot is "unreachable" unless a test points it somewhere.
        "local_model_url": "http://127.0.0.1:9",
        "orchestrator_url": "http://127.0.0.1:9",
        "config_refresh_seconds": 0.2,
        # The tests call as a local user of a single-user machine unless they test keys (require_auth=True).
        "require_auth": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings_factory(gateway_env: dict[str, str], redis_base_url: str) -> Any:
    def build(**overrides: Any) -> Settings:
        return make_settings(redis_base_url, **overrides)

    return build


class RunningLifespan:
    """Enter and exit an app's lifespan inside one task: Starlette's lifespan holds an anyio cancel scope,
    which must be left by the task that entered it (fixture setup and teardown run in different tasks)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._started = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with self.app.router.lifespan_context(self.app):
            self._started.set()
            await self._stop.wait()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        started = asyncio.create_task(self._started.wait())
        await asyncio.wait({self._task, started}, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            started.cancel()
            self._task.result()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


class GatewayHarness:
    """An app whose lifespan is running, and an httpx client talking to it in-process."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def services(self) -> Any:
        return self.app.state.services


@pytest.fixture
async def gateway_factory(settings_factory: Any) -> AsyncIterator[Any]:
    """Build in-process gateways (lifespan started); all are shut down after the test."""
    stack: list[tuple[FastAPI, httpx.AsyncClient, Any]] = []

    async def build(**overrides: Any) -> GatewayHarness:
        app = create_app(settings_factory(**overrides))
        lifespan = RunningLifespan(app)
        await lifespan.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=60
        )
        stack.append((app, client, lifespan))
        return GatewayHarness(app, client)

    yield build
    for _, client, lifespan in reversed(stack):
        await client.aclose()
        await lifespan.stop()


@pytest.fixture
async def gateway(gateway_factory: Any) -> GatewayHarness:
    harness: GatewayHarness = await gateway_factory()
    return harness


@pytest.fixture
def live_gateway_factory(settings_factory: Any) -> Iterator[Any]:
    """Serve gateways on real loopback ports (for the openai SDK, SSE and disconnects)."""
    contexts: list[Any] = []

    def build(**overrides: Any) -> str:
        context = serve_in_thread(create_app(settings_factory(**overrides)))
        live = context.__enter__()
        contexts.append(context)
        return live.url

    yield build
    for context in reversed(contexts):
        context.__exit__(None, None, None)


# ── fake providers: one server each per session, scripts reset for every test ─────────────────────────


class Fake:
    def __init__(self, fake: Any, url: str) -> None:
        self.fake = fake
        self.url = url

    @property
    def script(self) -> Any:
        return self.fake.script


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[Fake]:
    fake = FakeOpenAI(models=["gpt-4o-mini", "llama-3.3-70b-versatile"])
    with serve_in_thread(fake.app) as live:
        yield Fake(fake, live.url)


@pytest.fixture(scope="session")
def _llamacpp_server() -> Iterator[Fake]:
    # Plays the llama.cpp server of `make run`: OpenAI-compatible, one model, no Ollama API.
    fake = FakeOpenAI(models=["smollm2-135m"], owned_by="me")
    with serve_in_thread(fake.app) as live:
        yield Fake(fake, live.url)


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[Fake]:
    fake = FakeAnthropic()
    with serve_in_thread(fake.app) as live:
        yield Fake(fake, live.url)


@pytest.fixture(scope="session")
def _ollama_server() -> Iterator[Fake]:
    fake = FakeOllama(models=["qwen2.5:7b"])
    with serve_in_thread(fake.app) as live:
        yield Fake(fake, live.url)


@pytest.fixture(scope="session")
def _gemini_server() -> Iterator[Fake]:
    fake = FakeGemini()
    with serve_in_thread(fake.app) as live:
        yield Fake(fake, live.url)


@pytest.fixture(scope="session")
def _chatgpt_server() -> Iterator[Fake]:
    fake = FakeChatGPT()
    with serve_in_thread(fake.app) as live:
        yield Fake(fake, live.url)


@pytest.fixture
def fake_openai(_openai_server: Fake) -> Fake:
    _openai_server.script.reset()
    return _openai_server


@pytest.fixture
def fake_local(_llamacpp_server: Fake) -> Fake:
    _llamacpp_server.script.reset()
    return _llamacpp_server


@pytest.fixture
def fake_anthropic(_anthropic_server: Fake) -> Fake:
    _anthropic_server.script.reset()
    return _anthropic_server


@pytest.fixture
def fake_ollama(_ollama_server: Fake) -> Fake:
    _ollama_server.script.reset()
    return _ollama_server


@pytest.fixture
def fake_gemini(_gemini_server: Fake) -> Fake:
    _gemini_server.script.reset()
    _gemini_server.fake.calls.clear()
    return _gemini_server


@pytest.fixture
def fake_chatgpt(_chatgpt_server: Fake) -> Fake:
    _chatgpt_server.script.reset()
    return _chatgpt_server


@pytest.fixture
def wired(fake_openai: Fake, fake_local: Fake, fake_anthropic: Fake) -> dict[str, Any]:
    """Settings overrides: local slot on the llama.cpp fake; Groq and OpenAI on the OpenAI fake; Anthropic."""
    return {
        "local_model_url": fake_local.url,
        "groq_api_key": "gsk-test-groq-key-0123456789",
        "groq_base_url": f"{fake_openai.url}/v1",
        "openai_api_key": "sk-test-openai-key-0123456789",
        "openai_base_url": f"{fake_openai.url}/v1",
        "anthropic_api_key": "sk-ant-test-anthropic-key-0123",
        "anthropic_base_url": fake_anthropic.url,
    }


@pytest.fixture
def usage_records(redis_base_url: str) -> Any:
    """`await usage_records(gateway)`: flush the gateway's usage queue, return the stream's records."""
    import json

    import redis.asyncio as aioredis

    async def read(gateway: GatewayHarness) -> list[dict[str, Any]]:
        await gateway.services.usage.stop()
        gateway.services.usage.start()
        redis = aioredis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
        try:
            entries = await redis.xrange("nova:usage:events")
        finally:
            await redis.aclose()
        return [json.loads(fields["record"]) for _, fields in entries]

    return read
