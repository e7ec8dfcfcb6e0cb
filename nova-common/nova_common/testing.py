"""Pytest plugin: one embedded PostgreSQL (pgvector) and one embedded Redis per test session.

Isolation: `database_url` gives each test its own freshly created database; `redis_base_url` flushes every
Redis DB before the test. Set NOVA_TEST_DATABASE_URL / NOVA_TEST_REDIS_URL to use servers of your own.
Both embedded servers require a password (random per session); every URL handed out carries it.
Helpers: `eventually` / `eventually_async` (poll a condition; also the `wait_until` fixture), `run_sql`
(one statement from a synchronous test).
"""

import asyncio
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
import uvicorn

from nova_common.config import DEFAULT_ALLOWED_HOSTS
from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from nova_common.server import CoalescingHttpToolsProtocol

# Starlette's TestClient addresses the app as `http://testserver`.
TEST_CLIENT_HOST = "testserver"
# The values `nova_env` puts in the environment, so in-process services and started processes agree.
STACK_ADMIN_SECRET = "test-admin-secret-0123456789"  # noqa: S105 - tests only
STACK_SERVICE_TOKEN = "test-service-token-0123456789"  # noqa: S105 - tests only


def fake_model_gateway_env(redis_url: str, upstream_url: str, **extra: str) -> dict[str, str]:
    """llm-gateway's environment for a test stack whose only model is a loopback fake OpenAI-compatible server
    at `upstream_url` (cloud-only routing, no local model server); `extra` adds or overrides variables."""
    return {
        "REDIS_URL": redis_url,
        "OPENAI_API_KEY": "sk-fake",
        "OPENAI_BASE_URL": f"{upstream_url}/v1",
        "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
        "INFERENCE_BACKEND": "none",
        "LLM_ROUTING_STRATEGY": "cloud-only",
        **extra,
    }


def pytest_configure(config: pytest.Config) -> None:
    """In-process apps of a test session answer to the TestClient's host name too.

    Only in the test process (and the services it starts): a shipped default never includes it. A value
    the developer or CI set explicitly is kept.
    """
    os.environ.setdefault("ALLOWED_HOSTS", ",".join([*DEFAULT_ALLOWED_HOSTS, TEST_CLIENT_HOST]))


@pytest.fixture(scope="session")
def embedded_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres | None]:
    if os.environ.get("NOVA_TEST_DATABASE_URL"):
        yield None
        return
    server = EmbeddedPostgres(data_dir=tmp_path_factory.mktemp("pg") / "data", port=free_port())
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def postgres_admin_url(embedded_postgres: EmbeddedPostgres | None) -> str:
    """A URL to the server's maintenance database, for creating per-test databases."""
    if embedded_postgres is None:
        return os.environ["NOVA_TEST_DATABASE_URL"]
    return embedded_postgres.url


async def create_database(admin_url: str, prefix: str = "t") -> str:
    """Create an empty database on the server of `admin_url`; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{admin_url.rpartition('/')[0]}/{name}"


async def drop_database(admin_url: str, database_url: str) -> None:
    name = database_url.rpartition("/")[2]
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A brand-new, empty database for this test, dropped afterwards."""
    url = await create_database(postgres_admin_url)
    yield url
    await drop_database(postgres_admin_url, url)


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis | None]:
    if os.environ.get("NOVA_TEST_REDIS_URL"):
        yield None
        return
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_base_url(embedded_redis: EmbeddedRedis | None) -> Iterator[str]:
    """The Redis URL every service derives its own DB from; all DBs are empty when the test starts, and
    emptied again when it ends, so a later module's stack (which shares the session's Redis) starts clean."""
    url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    _flush(url)
    yield url
    _flush(url)


def _flush(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


@pytest.fixture
def nova_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Secrets and a clean working directory, so no developer `.env` leaks into a test."""
    monkeypatch.chdir(tmp_path)
    values = {
        "NOVA_ADMIN_SECRET": STACK_ADMIN_SECRET,
        "NOVA_SERVICE_TOKEN": STACK_SERVICE_TOKEN,
        "LOG_FORMAT": "console",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def eventually(
    predicate: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Poll until `predicate()` is truthy and return its value; an AssertionError naming `what` after `timeout`.

    For synchronous tests and helpers (it sleeps the thread); async tests use `eventually_async`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


async def eventually_async(
    predicate: Callable[[], Any], *, within: float = 60.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """`eventually` inside an event loop: `predicate` may be sync or return an awaitable; the loop keeps
    running between checks, so background tasks of the same loop make progress."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {within}s (last value: {value!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """`eventually` as a fixture: poll until `predicate()` is truthy; background loops run on their own clock."""
    return eventually


@pytest.fixture
def run_sql(database_url: str) -> Callable[..., list[asyncpg.Record]]:
    """One statement on this test's database, from a synchronous test."""

    def run(query: str, *args: Any) -> list[asyncpg.Record]:
        async def go() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(database_url)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return asyncio.run(go())

    return run


# ── Real service processes ───────────────────────────────────────────────────────────────────────────
# The one "start a Nova service and wait for its health" helper, for every service's tests and the
# cross-service ones (`tests/stack.py` re-exports it): `python -m <package>` on a free loopback port, logging
# to a file whose path and tail are in every failure message. A `ServiceProcess` can be stopped and started
# again on the same port, which is how tests take a service away and bring it back.


@asynccontextmanager
async def serving(
    app: Any, server_class: type[uvicorn.Server] = uvicorn.Server
) -> AsyncIterator[tuple[uvicorn.Server, str]]:
    """`app` served on loopback by uvicorn with the services' HTTP protocol, in this event loop: the server and
    its base URL. On exit it shuts down, without waiting long for a request still being answered."""
    port = free_port()
    server = server_class(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="off",
            http=CoalescingHttpToolsProtocol,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # the server could not start: say why
        await asyncio.sleep(0.02)
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        # A response still being written (a stream) can hold uvicorn's exit: given up on after a while.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 10)


@dataclass
class ServiceProcess:
    package: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # `/health/live` answers once the app serves; `/health/ready` once its dependencies answer too.
    ready_path: str = "/health/live"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.package}-{self.port}.log"

    def start(self, *, ready_within: float = 90.0) -> "ServiceProcess":
        """Start and wait for `ready_path`. A process that exits while starting is started again until the
        deadline: a dependency restarted a moment ago (PostgreSQL recovering) refuses connections briefly."""
        deadline = time.monotonic() + ready_within
        while True:
            self._spawn()
            assert self.process is not None
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            if self.process.poll() is None:
                self.stop()
                raise RuntimeError(
                    f"{self.package} did not come up within {ready_within}s; log: {self.log_path}\n"
                    f"{self.log_tail()}"
                )
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"{self.package} exited with {self.process.returncode}; log: {self.log_path}\n"
                    f"{self.log_tail()}"
                )
            time.sleep(1.0)

    def _spawn(self) -> None:
        env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_FORMAT": "console",
            "NOVA_ADMIN_SECRET": STACK_ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": STACK_SERVICE_TOKEN,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.package],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_dir,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@contextmanager
def service_process(package: str, env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess(package, env, log_dir).start()
    try:
        yield service
    finally:
        service.stop()
