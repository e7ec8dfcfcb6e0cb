"""recovery's maintenance flag (a restore in progress) holds the knowledge worker: a due source is not
crawled while the flag is up, and is once the flag goes, with no restart."""

from collections.abc import Iterator

import httpx
import pytest
import redis
from fakes.server import LiveServer, free_port
from fastapi.testclient import TestClient

from knowledge_worker.config import Settings
from knowledge_worker.main import create_app
from nova_common.maintenance import MAINTENANCE_KEY
from nova_common.testing import eventually


@pytest.fixture
def config_db(redis_base_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
    yield client
    client.close()


def _crawls(api: httpx.Client, source_id: str) -> list[dict[str, object]]:
    crawls: list[dict[str, object]] = api.get(f"/api/v1/knowledge/sources/{source_id}/crawls").json()
    return crawls


def test_a_due_source_is_not_crawled_during_maintenance_and_is_once_it_ends(
    orchestrator: LiveServer,
    admin_api: httpx.Client,
    redis_base_url: str,
    nova_env: dict[str, str],
    config_db: redis.Redis,
) -> None:
    source = admin_api.post(
        "/api/v1/knowledge/sources", json={"name": "notes", "kind": "text", "text": "I prefer tea."}
    ).json()
    config_db.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
    unreachable = f"http://127.0.0.1:{free_port()}"
    settings = Settings.model_validate(
        {
            "REDIS_URL": redis_base_url,
            "ORCHESTRATOR_URL": orchestrator.url,
            "LLM_GATEWAY_URL": unreachable,
            "MEMORY_SERVICE_URL": unreachable,
            "poll_interval_seconds": 0.1,
            "llm_link_scoring": False,
        }
    )
    with TestClient(create_app(settings)) as client:
        flag = client.app.state.maintenance  # type: ignore[attr-defined]
        eventually(lambda: flag.held >= 3, timeout=30, what="the crawl loop skipping three rounds")
        assert _crawls(admin_api, source["id"]) == []
        config_db.delete(MAINTENANCE_KEY)
        eventually(lambda: _crawls(admin_api, source["id"]), timeout=30, what="the source crawled")
