"""recovery's maintenance flag (a restore in progress) holds the feed poller: a due feed is not fetched while
the flag is up, and is once the flag goes, with no restart."""

from collections.abc import Iterator

import httpx
import pytest
import redis
from fakes.server import LiveServer, free_port
from fakes.web_sites import SiteState
from fastapi.testclient import TestClient

from intel_worker.config import Settings
from intel_worker.main import create_app
from nova_common.maintenance import MAINTENANCE_KEY
from nova_common.testing import eventually


@pytest.fixture
def config_db(redis_base_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
    yield client
    client.close()


def test_a_due_feed_is_not_fetched_during_maintenance_and_is_once_it_ends(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    site: tuple[LiveServer, SiteState],
    redis_base_url: str,
    nova_env: dict[str, str],
    config_db: redis.Redis,
) -> None:
    live, state = site
    created = admin_api.post("/api/v1/intel/feeds", json={"url": f"{live.url}/f/rss2.xml", "type": "rss"})
    assert created.status_code == 201, created.text
    config_db.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
    settings = Settings.model_validate(
        {
            "REDIS_URL": redis_base_url,
            "ORCHESTRATOR_URL": orchestrator.url,
            "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
            "SSRF_ALLOW_LOOPBACK_FOR_TESTS": "true",
            "poll_interval_seconds": 0.1,
            "digest_after_poll": False,
        }
    )
    with TestClient(create_app(settings)) as client:
        flag = client.app.state.maintenance  # type: ignore[attr-defined]
        eventually(lambda: flag.held >= 3, timeout=30, what="the poll loop skipping three rounds")
        assert [h for h in state.hits if h.path == "/f/rss2.xml"] == []
        config_db.delete(MAINTENANCE_KEY)
        eventually(
            lambda: [h for h in state.hits if h.path == "/f/rss2.xml"], timeout=30, what="the feed fetched"
        )
