"""intel-worker tests: the real orchestrator app on loopback (tests/live_orchestrator.py, shared with
knowledge-worker) and fake feed sites serving recorded documents; the worker's poller runs against both."""

import sys
from collections.abc import Iterator
from pathlib import Path

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

import pytest  # noqa: E402
from fakes.server import LiveServer, serve_in_thread  # noqa: E402
from fakes.web_sites import SiteState, feed_site  # noqa: E402
from live_orchestrator import admin_api, orchestrator  # noqa: E402

__all__ = ["admin_api", "orchestrator", "site"]


@pytest.fixture
def site() -> Iterator[tuple[LiveServer, SiteState]]:
    state = SiteState()
    with serve_in_thread(feed_site(state)) as live:
        yield live, state
