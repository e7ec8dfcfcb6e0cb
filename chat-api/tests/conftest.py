"""Fixtures: a real orchestrator process (and, when the stack has one, a real llm-gateway on the fake model
provider), and chat-api served by uvicorn on a loopback port with the WebSocket options it runs with."""

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import httpx  # noqa: E402
import pytest  # noqa: E402
import uvicorn  # noqa: E402
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env  # noqa: E402

from chat_api.config import Settings  # noqa: E402
from chat_api.main import create_app  # noqa: E402
from chat_api.server import uvicorn_config  # noqa: E402
from nova_common.embedded import free_port  # noqa: E402
from nova_common.testing import eventually  # noqa: E402

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}


@dataclass
class ChatApi:
    url: str
    ws_url: str
    settings: Settings
    app: Any


@pytest.fixture
def orchestrator(database_url: str, redis_base_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The real orchestrator; llm-gateway is absent here, so a turn fails in-band (tests/ has the full stack)."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    env = orchestrator_env(
        database_url, redis_base_url, gateway_url=f"http://127.0.0.1:{free_port()}", workspace=workspace
    )
    service = ServiceProcess("orchestrator", env, tmp_path).start()
    yield service
    service.stop()


def create_key(orchestrator_url: str, name: str = "chat-test") -> str:
    response = httpx.post(f"{orchestrator_url}/api/v1/keys", json={"name": name}, headers=ADMIN, timeout=10)
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


@pytest.fixture
def api_key(orchestrator: ServiceProcess) -> str:
    return create_key(orchestrator.url)


@contextmanager
def serve_chat_api(settings: Settings) -> Iterator[ChatApi]:
    """chat-api under uvicorn in a thread, with the WebSocket limits `python -m chat_api` applies."""
    app = create_app(settings)
    server = uvicorn.Server(uvicorn_config(settings, app))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "chat-api's server thread ended while starting"
        return bool(server.started)

    eventually(started, timeout=30, interval=0.02, what="chat-api started")
    try:
        yield ChatApi(
            f"http://127.0.0.1:{settings.port}", f"ws://127.0.0.1:{settings.port}/ws/chat", settings, app
        )
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def chat_settings(nova_env: dict[str, str], redis_base_url: str) -> Callable[..., Settings]:
    def make(orchestrator_url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "port": free_port(),
            "redis_url": redis_base_url,
            "orchestrator_url": orchestrator_url,
            "require_auth": True,
            "delivery_sweep_seconds": 0.5,
            "orchestrator_probe_max_seconds": 0.5,
            **overrides,
        }
        return Settings.model_validate(values)

    return make
