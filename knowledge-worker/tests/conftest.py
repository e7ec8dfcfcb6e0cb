"""knowledge-worker tests: the real orchestrator app (served on loopback, on the kit's embedded PostgreSQL
and Redis) and a fake website with a crawler's traps; the worker's crawls run against both for real."""

import sys
from collections.abc import Iterator
from pathlib import Path

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

import httpx  # noqa: E402
import pytest  # noqa: E402
from fakes.server import LiveServer, free_port, serve_in_thread  # noqa: E402
from fakes.web_sites import SiteState, crawl_site  # noqa: E402

from orchestrator.config import Settings as OrchestratorSettings  # noqa: E402
from orchestrator.main import create_app as create_orchestrator  # noqa: E402


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
    with httpx.Client(
        base_url=orchestrator.url, headers={"X-Admin-Secret": nova_env["NOVA_ADMIN_SECRET"]}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def site() -> Iterator[tuple[LiveServer, SiteState]]:
    """The website on 127.0.0.1; its off-host link points at the same server under the name `localhost`,
    so a request there would show up in the same access log with another Host."""
    state = SiteState()
    port = free_port()
    app = crawl_site(state, off_host=f"http://localhost:{port}/elsewhere", slow_seconds=3.0)
    with serve_in_thread(app, port=port) as live:
        yield live, state


@pytest.fixture(autouse=True)
def vault_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.knowledge import vault

    monkeypatch.setenv("CREDENTIAL_MASTER_KEY", "knowledge-test-master-key-0123456789")
    vault._configured_master_key.cache_clear()
