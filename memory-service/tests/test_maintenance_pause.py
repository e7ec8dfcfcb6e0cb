"""recovery's maintenance flag (a restore in progress) holds memory ingestion: an item waiting in the queue
is not taken while the flag is up, and is once the flag goes, with no restart."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.maintenance import MAINTENANCE_KEY
from nova_common.testing import eventually

QUEUE_KEY = "nova:memory:ingest:queue"


@pytest.fixture
def redis_db(redis_base_url: str) -> Callable[[int], redis.Redis]:
    return lambda n: redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + f"/{n}", decode_responses=True)


def test_an_ingestion_item_is_not_taken_during_maintenance_and_is_once_it_ends(
    make_service: Callable[..., AbstractContextManager[TestClient]],
    closed_gateway_url: str,
    redis_db: Callable[[int], redis.Redis],
) -> None:
    config, memory = redis_db(1), redis_db(0)
    config.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
    client: TestClient
    with make_service(closed_gateway_url) as client:
        flag: Any = client.app.state.maintenance  # type: ignore[attr-defined]
        body = {"content": "User: I live in Porto.", "source": {"kind": "chat", "title": "chat turn"}}
        assert client.post("/api/v1/memories/ingest", json=body).status_code == 202
        held = flag.held
        eventually(lambda: flag.held >= held + 2, timeout=30, what="the consumers holding back twice")
        assert memory.llen(QUEUE_KEY) == 1
        config.delete(MAINTENANCE_KEY)
        eventually(lambda: memory.llen(QUEUE_KEY) == 0, timeout=30, what="the item taken")
    config.close()
    memory.close()
