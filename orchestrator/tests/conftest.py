"""Orchestrator fixtures: the real app on the kit's embedded PostgreSQL and Redis.

llm-gateway and memory-service point at a closed port here; the tests that need them live in the
top-level `tests/` and start the real services.
"""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Shared fakes and the live-server helper live in the repo's top-level `tests/` package.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from nova_common.embedded import free_port  # noqa: E402
from nova_common.testing import ServiceProcess  # noqa: E402
from orchestrator.config import Settings  # noqa: E402
from orchestrator.main import create_app  # noqa: E402

ADMIN_SECRET = "orchestrator-test-admin-secret"
SERVICE_TOKEN = "orchestrator-test-service-token"
ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
SERVICE = {"X-Service-Token": SERVICE_TOKEN}


def make_settings(database_url: str, redis_url: str, workspace: Path, **overrides: Any) -> Settings:
    unreachable = f"http://127.0.0.1:{free_port()}"
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REQUIRE_AUTH": "true",
        "NOVA_ADMIN_SECRET": ADMIN_SECRET,
        "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
        "NOVA_WORKSPACE": str(workspace),
        "LLM_GATEWAY_URL": unreachable,
        "MEMORY_SERVICE_URL": unreachable,
        "MCP_CONNECT_TIMEOUT_SECONDS": 20,
        "MCP_CALL_TIMEOUT_SECONDS": 10,
        "MCP_PING_INTERVAL_SECONDS": 1,
        "USAGE_BLOCK_MS": 200,
        "KEY_TOUCH_INTERVAL_SECONDS": 0.2,
        "PLATFORM_CONFIG_CACHE_SECONDS": 0,
        "SHELL_TIMEOUT_SECONDS": 5,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def settings(database_url: str, redis_base_url: str, workspace: Path, nova_env: dict[str, str]) -> Settings:
    return make_settings(database_url, redis_base_url, workspace)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers of the admin (the dashboard)."""
    return dict(ADMIN)


@pytest.fixture
def service() -> dict[str, str]:
    """Headers of another Nova service."""
    return dict(SERVICE)


@pytest.fixture
def orchestrator_process(
    database_url: str, redis_base_url: str, workspace: Path, tmp_path: Path
) -> Iterator[Callable[..., str]]:
    """Start real `python -m orchestrator` processes on the test database and Redis; returns their URLs."""
    processes: list[ServiceProcess] = []

    def start(**env_overrides: str) -> str:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "REQUIRE_AUTH": "true",
            "NOVA_ADMIN_SECRET": ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
            "NOVA_WORKSPACE": str(workspace),
            **env_overrides,
        }
        process = ServiceProcess("orchestrator", env, tmp_path, ready_path="/health/ready")
        processes.append(process)
        return process.start(ready_within=60).url

    yield start
    for process in processes:
        process.stop()
