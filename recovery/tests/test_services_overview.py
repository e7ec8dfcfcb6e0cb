"""Recovery's stack overview: what the dashboard's startup screen shows while services come online."""

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nova_common.app import create_service_app
from nova_common.config import NovaSettings
from nova_common.embedded import free_port
from recovery.config import Settings
from recovery.main import create_app


def _peer(name: str, *, broken_check: bool) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def failing() -> None:
            raise ConnectionError("connection refused")

        async def passing() -> None:
            return None

        app.state.health.add_check("postgres", failing if broken_check else passing)
        yield

    return create_service_app(
        NovaSettings(service_name=name), title=name, description="", version="0", lifespan=lifespan
    )


@pytest.fixture(scope="module")
def peers() -> Iterator[dict[str, str]]:
    servers, urls = [], {}
    for name, broken in (("orchestrator", False), ("cortex", True)):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(_peer(name, broken_check=broken), port=port, log_config=None))
        threading.Thread(target=server.run, daemon=True).start()
        servers.append(server)
        urls[name] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not all(s.started for s in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield urls
    for server in servers:
        server.should_exit = True


@pytest.fixture
def overview(peers: dict[str, str], database_url: str, redis_base_url: str) -> dict:  # type: ignore[type-arg]
    closed = f"http://127.0.0.1:{free_port()}"
    settings = Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "NOVA_PROFILES": "bridges",
            "ORCHESTRATOR_URL": peers["orchestrator"],
            "CORTEX_URL": peers["cortex"],
            **{
                key: closed
                for key in (
                    "LLM_GATEWAY_URL",
                    "MEMORY_SERVICE_URL",
                    "CHAT_API_URL",
                    "CHAT_BRIDGE_URL",
                    "INTEL_WORKER_URL",
                    "DASHBOARD_URL",
                    "LOCAL_MODEL_URL",
                )
            },
        }
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/recovery/services")
    assert response.status_code == 200
    return response.json()


def _state(overview: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in overview["services"] if s["name"] == name)


def test_ready_service_is_reported_ready_with_latency(overview: dict) -> None:  # type: ignore[type-arg]
    orchestrator = _state(overview, "orchestrator")
    assert orchestrator["state"] == "ready"
    assert orchestrator["latency_ms"] >= 0


def test_service_with_a_failing_dependency_is_not_ready_and_names_it(overview: dict) -> None:  # type: ignore[type-arg]
    cortex = _state(overview, "cortex")
    assert cortex["state"] == "not_ready"
    assert "postgres" in cortex["detail"]
    assert cortex["checks"][0]["status"] == "down"


def test_unreachable_service_is_down(overview: dict) -> None:  # type: ignore[type-arg]
    assert _state(overview, "llm-gateway")["state"] == "down"
    assert _state(overview, "model-server")["state"] == "down"


def test_opt_in_services_follow_the_enabled_profiles(overview: dict) -> None:  # type: ignore[type-arg]
    assert _state(overview, "chat-bridge")["state"] == "down"  # bridges enabled, but not running
    assert _state(overview, "voice-service")["state"] == "disabled"
    assert "voice" in _state(overview, "voice-service")["detail"]


def test_counts_leave_disabled_services_out(overview: dict) -> None:  # type: ignore[type-arg]
    expected = [s for s in overview["services"] if s["state"] != "disabled"]
    assert overview["total"] == len(expected)
    assert overview["ready"] == 2  # orchestrator and recovery itself
