"""Orchestrator fixtures: the real app on the kit's embedded PostgreSQL and Redis.

llm-gateway and memory-service point at a closed port here; the tests that need them live in the
top-level `tests/` and start the real services.
"""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Shared fakes and the live-server helper live in the repo's top-level `tests/` package.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import httpx  # noqa: E402
import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from nova_common.embedded import free_port  # noqa: E402
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
    processes: list[subprocess.Popen[bytes]] = []

    def start(**env_overrides: str) -> str:
        port = free_port()
        log_path = tmp_path / f"orchestrator-{port}.log"
        env = {
            **os.environ,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "REQUIRE_AUTH": "true",
            "NOVA_ADMIN_SECRET": ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
            "NOVA_WORKSPACE": str(workspace),
            "LOG_FORMAT": "console",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **env_overrides,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchestrator"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"orchestrator exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"orchestrator did not become ready:\n{log_path.read_text()[-3000:]}")

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
