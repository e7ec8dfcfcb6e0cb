"""The real orchestrator app served on loopback, for the workers' tests (intel-worker, knowledge-worker).

It runs on the kit's embedded PostgreSQL and Redis with llm-gateway and memory-service unreachable, and lets
feeds and sources on loopback through the SSRF guard (the fake sites live there). A worker's conftest puts
this folder on `sys.path` and imports the fixtures it uses:

    from live_orchestrator import admin_api, orchestrator
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.server import LiveServer, free_port, serve_in_thread

from orchestrator.config import Settings as OrchestratorSettings
from orchestrator.main import create_app as create_orchestrator

__all__ = ["admin_api", "orchestrator"]


@pytest.fixture
def orchestrator(
    database_url: str, redis_base_url: str, tmp_path: Path, nova_env: dict[str, str]
) -> Iterator[LiveServer]:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    unreachable = f"http://127.0.0.1:{free_port()}"
    settings = OrchestratorSettings.model_validate(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "REQUIRE_AUTH": "true",
            "NOVA_ADMIN_SECRET": nova_env["NOVA_ADMIN_SECRET"],
            "NOVA_SERVICE_TOKEN": nova_env["NOVA_SERVICE_TOKEN"],
            "NOVA_WORKSPACE": str(workspace),
            "LLM_GATEWAY_URL": unreachable,
            "MEMORY_SERVICE_URL": unreachable,
            # The fake sites are on loopback: feeds and sources there must be accepted.
            "SSRF_ALLOW_LOOPBACK_FOR_TESTS": "true",
        }
    )
    with serve_in_thread(create_orchestrator(settings)) as live:
        yield live


@pytest.fixture
def admin_api(orchestrator: LiveServer, nova_env: dict[str, str]) -> Iterator[httpx.Client]:
    """An httpx client on the orchestrator with the admin secret."""
    with httpx.Client(
        base_url=orchestrator.url, headers={"X-Admin-Secret": nova_env["NOVA_ADMIN_SECRET"]}, timeout=30
    ) as client:
        yield client
