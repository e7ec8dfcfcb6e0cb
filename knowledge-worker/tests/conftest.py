"""knowledge-worker tests: the real orchestrator app on loopback (tests/live_orchestrator.py, shared with
intel-worker) and a fake website with a crawler's traps; the worker's crawls run against both for real."""

import sys
from collections.abc import Iterator
from pathlib import Path

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

import pytest  # noqa: E402
from fakes.server import LiveServer, free_port, serve_in_thread  # noqa: E402
from fakes.web_sites import SiteState, crawl_site  # noqa: E402
from live_orchestrator import admin_api, orchestrator  # noqa: E402

__all__ = ["admin_api", "orchestrator", "site", "vault_master_key"]


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
