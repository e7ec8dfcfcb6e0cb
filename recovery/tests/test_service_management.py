"""Service management under Compose: the real docker SDK against a loopback fake of the Docker Engine API."""

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from recovery.config import Settings
from recovery.main import create_app

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

from fakes.docker_engine_fake import FakeDockerEngine  # noqa: E402
from fakes.server import serve_in_thread  # noqa: E402


@pytest.fixture
def engine() -> FakeDockerEngine:
    fake = FakeDockerEngine(project="nova")
    fake.add("orchestrator", logs=[f"orchestrator says {i}" for i in range(300)])
    fake.add("chat-bridge", running=False)
    other = FakeDockerEngine(project="someone-else")
    stranger = other.add("orchestrator")
    fake.containers[stranger.id] = stranger  # another Compose project's container on the same engine
    return fake


@pytest.fixture
def docker_client(engine: FakeDockerEngine, recovery_settings: Settings) -> Iterator[TestClient]:
    with serve_in_thread(engine.app) as live:
        settings = recovery_settings.model_copy(update={"docker_host": live.url, "service_manager": "docker"})
        with TestClient(create_app(settings)) as client:
            yield client


def test_restart_restarts_only_this_projects_container(
    docker_client: TestClient, engine: FakeDockerEngine, admin: dict[str, str]
) -> None:
    response = docker_client.post("/api/v1/recovery/services/orchestrator/restart", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "restart", "services": ["orchestrator"]}
    assert engine.calls == [("restart", "orchestrator")]
    assert engine.by_service("orchestrator").restart_count == 1


def test_profile_start_and_stop_drive_its_containers(
    docker_client: TestClient, engine: FakeDockerEngine, admin: dict[str, str]
) -> None:
    started = docker_client.post("/api/v1/recovery/profiles/bridges/start", headers=admin)
    assert started.status_code == 200 and started.json()["services"] == ["chat-bridge"]
    assert engine.by_service("chat-bridge").running
    listed = docker_client.get("/api/v1/recovery/managed-services", headers=admin).json()
    assert listed["manager"] == "docker"
    assert {s["name"]: s["running"] for s in listed["services"]} == {
        "orchestrator": True,
        "chat-bridge": True,
    }
    stopped = docker_client.post("/api/v1/recovery/profiles/bridges/stop", headers=admin)
    assert stopped.status_code == 200
    assert not engine.by_service("chat-bridge").running


def test_profile_without_containers_says_how_to_create_them(
    docker_client: TestClient, admin: dict[str, str]
) -> None:
    response = docker_client.post("/api/v1/recovery/profiles/voice/start", headers=admin)
    assert response.status_code == 409
    assert "docker compose --profile voice up -d" in response.json()["detail"]
    assert docker_client.post("/api/v1/recovery/profiles/nope/start", headers=admin).status_code == 404


def test_logs_return_the_last_lines(docker_client: TestClient, admin: dict[str, str]) -> None:
    response = docker_client.get("/api/v1/recovery/services/orchestrator/logs?lines=3", headers=admin)
    assert response.status_code == 200
    assert response.json()["lines"] == [
        "orchestrator says 297",
        "orchestrator says 298",
        "orchestrator says 299",
    ]
    assert (
        docker_client.get("/api/v1/recovery/services/orchestrator/logs?lines=0", headers=admin).status_code
        == 422
    )


def test_unknown_service_is_404(docker_client: TestClient, admin: dict[str, str]) -> None:
    assert docker_client.post("/api/v1/recovery/services/nope/restart", headers=admin).status_code == 404
    missing = docker_client.post("/api/v1/recovery/services/cortex/restart", headers=admin)
    assert missing.status_code == 404 and "no container" in missing.json()["detail"]


def test_service_management_needs_the_admin_secret(
    docker_client: TestClient, engine: FakeDockerEngine
) -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/recovery/managed-services", {}),
        ("POST", "/api/v1/recovery/services/orchestrator/restart", {}),
        ("GET", "/api/v1/recovery/services/orchestrator/logs", {}),
        ("POST", "/api/v1/recovery/profiles/bridges/start", {}),
        ("POST", "/api/v1/recovery/profiles/bridges/stop", {}),
    ]
    for method, path, _ in calls:
        assert docker_client.request(method, path).status_code == 401, path
    assert engine.calls == []


def test_without_a_manager_the_answer_says_what_is_missing(
    recovery_settings: Settings, admin: dict[str, str]
) -> None:
    settings = recovery_settings.model_copy(update={"service_manager": "none"})
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/recovery/services/orchestrator/restart", headers=admin)
    assert response.status_code == 503
    assert "make run" in response.json()["detail"]
