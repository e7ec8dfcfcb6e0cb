"""memory-service tests run the real app on real PostgreSQL (pgvector) and Redis, and embed through a real
llm-gateway process started once per session (`python -m llm_gateway`, MiniLM on CPU)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The fake model server lives in the repo's top-level `tests/fakes` (imported as `fakes`: several services
# have a `tests` folder, so `tests.fakes` is ambiguous under pytest's importlib mode).
_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

import httpx  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402
from fakes import FakeOpenAI, LiveServer, serve_in_thread  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from memory_service.config import Settings  # noqa: E402
from memory_service.main import create_app  # noqa: E402
from nova_common.embedded import EmbeddedRedis, free_port  # noqa: E402
from nova_common.redis import redis_url_for  # noqa: E402

SERVICE_TOKEN = "test-service-token-0123456789"
ADMIN_SECRET = "test-admin-secret-0123456789"
SERVICE_HEADERS = {"X-Service-Token": SERVICE_TOKEN}
GATEWAY_START_SECONDS = 180


@contextmanager
def running_gateway(port: int, redis_url: str, log_path: Path, model_url: str | None = None) -> Iterator[str]:
    """`python -m llm_gateway` on `port`, until the block ends; yields its URL once it embeds. With
    `model_url` (a fake OpenAI server) its completions go there; embeddings stay the built-in MiniLM."""
    model_env = (
        {
            "OPENAI_API_KEY": "sk-fake-0123456789",
            "OPENAI_BASE_URL": f"{model_url}/v1",
            "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
            "INFERENCE_BACKEND": "none",
            "LLM_ROUTING_STRATEGY": "cloud-only",
        }
        if model_url
        else {}
    )
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "REDIS_URL": redis_url,
        "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
        "NOVA_ADMIN_SECRET": ADMIN_SECRET,
        "LOG_FORMAT": "console",
        **model_env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "llm_gateway"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_embeddings(url, process, log_path, redis_url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def test_redis_url(embedded_redis: EmbeddedRedis | None) -> str:
    return os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")


@dataclass
class FakeModel:
    """The deterministic model behind the session gateway's completions (memory extraction, summaries)."""

    fake: FakeOpenAI
    server: LiveServer


@pytest.fixture(scope="session")
def _fake_model_server() -> Iterator[FakeModel]:
    fake = FakeOpenAI(models=["gpt-4o-mini"])
    with serve_in_thread(fake.app) as live:
        yield FakeModel(fake, live)


@pytest.fixture
def fake_model(_fake_model_server: FakeModel) -> FakeOpenAI:
    """The session's fake model with an empty script: push the replies a test needs."""
    _fake_model_server.fake.script.reset()
    return _fake_model_server.fake


@pytest.fixture(scope="session")
def gateway_url(
    test_redis_url: str, tmp_path_factory: pytest.TempPathFactory, _fake_model_server: FakeModel
) -> Iterator[str]:
    """A real llm-gateway for the whole session, sharing the embedded Redis (its own DB 1); it embeds
    with MiniLM and completes with the fake model."""
    log_path = tmp_path_factory.mktemp("gateway") / "gateway.log"
    with running_gateway(
        free_port(), test_redis_url, log_path, model_url=_fake_model_server.server.url
    ) as url:
        yield url


def _wait_for_embeddings(url: str, process: subprocess.Popen[bytes], log_path: Path, redis_url: str) -> None:
    """Until the gateway answers an embedding (its model loads lazily or at start; either way) and has
    recorded its usage: the record is written after the answer, and one landing after the next test's flush
    would count as that test's call."""
    deadline = time.monotonic() + GATEWAY_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"llm-gateway exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            response = httpx.post(
                f"{url}/embed", json={"texts": ["warm up"]}, headers=SERVICE_HEADERS, timeout=60
            )
            if response.status_code == 200:
                _wait_for_a_usage_record(redis_url, deadline)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"llm-gateway did not embed within {GATEWAY_START_SECONDS}s:\n{log_path.read_text()[-3000:]}"
    )


def _wait_for_a_usage_record(redis_url: str, deadline: float) -> None:
    client = redis.Redis.from_url(redis_url_for("llm-gateway", redis_url))
    try:
        while not client.xlen("nova:usage:events"):
            if time.monotonic() > deadline:
                raise RuntimeError("llm-gateway answered an embedding but recorded no usage for it")
            time.sleep(0.05)
    finally:
        client.close()


@pytest.fixture
def start_gateway(test_redis_url: str) -> Callable[[int, Path], AbstractContextManager[str]]:
    """Start another gateway process on a given port (for a gateway that comes up late)."""
    return lambda port, log_path: running_gateway(port, test_redis_url, log_path)


@pytest.fixture
def closed_gateway_url() -> str:
    """An address where nothing listens: the gateway is down."""
    return f"http://127.0.0.1:{free_port()}"


ServiceFactory = Callable[..., AbstractContextManager[TestClient]]


@pytest.fixture
def make_service(nova_env: dict[str, str], database_url: str, redis_base_url: str) -> ServiceFactory:
    """Start the memory-service app (lifespan and background loops included) against `gateway`."""

    @contextmanager
    def start(gateway: str, **overrides: Any) -> Iterator[TestClient]:
        values: dict[str, Any] = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "LLM_GATEWAY_URL": gateway,
            "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
            "NOVA_ADMIN_SECRET": ADMIN_SECRET,
            "DATABASE_POOL_MAX": 5,
            # The kit's plugin lets the TestClient's host name in through the environment, which
            # `model_validate` does not read.
            **({"ALLOWED_HOSTS": os.environ["ALLOWED_HOSTS"]} if "ALLOWED_HOSTS" in os.environ else {}),
            **overrides,
        }
        settings = Settings.model_validate(values)
        with TestClient(create_app(settings), headers=SERVICE_HEADERS) as client:
            yield client

    return start


@pytest.fixture
def service(make_service: ServiceFactory, gateway_url: str) -> Iterator[TestClient]:
    with make_service(gateway_url) as client:
        yield client


@contextmanager
def _memory_process(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m memory_service` with `env`, until the block ends; yields its URL and process."""
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "memory_service"],
            env={**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"memory-service exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"memory-service did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def memory_process() -> Callable[..., AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]]:
    """Start memory-service as a real process (one that a test can kill with SIGKILL)."""
    return _memory_process
