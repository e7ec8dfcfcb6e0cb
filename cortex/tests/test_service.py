"""The cortex service on the kit's Redis: routes and their credentials, pause and resume, the lease."""

from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from cortex.config import Settings
from cortex.main import create_app
from cortex.state import LEASE_KEY
from nova_common.embedded import free_port
from nova_common.lease import RedisLease
from nova_common.redis import create_redis

ADMIN = {"X-Admin-Secret": "test-admin-secret-0123456789"}
SERVICE = {"X-Service-Token": "test-service-token-0123456789"}


@pytest.fixture
def client(redis_base_url: str, nova_env: dict[str, str]) -> Iterator[TestClient]:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        redis_url=redis_base_url,
        cortex_enabled=False,  # the routes only: no loop acts in these tests
        orchestrator_url=closed,
        llm_gateway_url=closed,
        memory_service_url=closed,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health_is_public_and_every_cortex_route_needs_the_admin_secret_or_the_service_token(
    client: TestClient,
) -> None:
    assert client.get("/health/live").status_code == 200
    for method, path in [
        ("GET", "/api/v1/cortex/status"),
        ("POST", "/api/v1/cortex/pause"),
        ("POST", "/api/v1/cortex/resume"),
        ("GET", "/api/v1/cortex/drives"),
        ("GET", "/api/v1/cortex/budget"),
        ("GET", "/api/v1/cortex/journal"),
        ("POST", "/api/v1/cortex/trigger/00000000-0000-4000-8000-000000000000"),
        ("GET", "/api/v1/cortex/reflections/00000000-0000-4000-8000-000000000000"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["detail"]
    assert (
        client.get("/api/v1/cortex/status", headers={"X-Service-Token": "wrong-token-0123456789"}).status_code
        == 401
    )


def test_pause_and_resume_are_kept_in_redis_and_shown_in_the_status(client: TestClient) -> None:
    paused = client.post("/api/v1/cortex/pause", headers=ADMIN)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert client.get("/api/v1/cortex/status", headers=SERVICE).json()["status"] == "paused"
    resumed = client.post("/api/v1/cortex/resume", headers=SERVICE)
    assert resumed.json()["status"] == "running"
    assert resumed.json()["acting"] is False  # CORTEX_ENABLED=false: this replica never acts


def test_drives_before_any_cycle_lists_every_drive_at_rest(client: TestClient) -> None:
    drives = client.get("/api/v1/cortex/drives", headers=ADMIN).json()
    assert {d["drive"] for d in drives} == {"serve", "maintain", "improve", "reflect", "learn"}
    assert all(d["score"] == 0 for d in drives)


def test_routes_that_need_the_orchestrator_answer_503_naming_it_when_it_is_down(client: TestClient) -> None:
    for path in ("/api/v1/cortex/budget", "/api/v1/cortex/journal"):
        response = client.get(path, headers=ADMIN)
        assert response.status_code == 503, response.text
        assert "orchestrator" in response.json()["detail"]


def test_a_malformed_goal_id_is_a_422(client: TestClient) -> None:
    assert client.post("/api/v1/cortex/trigger/not-a-uuid", headers=ADMIN).status_code == 422


async def test_only_one_replica_holds_the_lease_until_it_lets_go(redis_base_url: str) -> None:
    connection: aioredis.Redis = create_redis("cortex", redis_base_url)
    try:
        await connection.delete("nova:cortex:lease")
        first, second = RedisLease(connection, LEASE_KEY, 5), RedisLease(connection, LEASE_KEY, 5)
        assert await first.renew() is True
        assert await second.renew() is False
        assert await first.renew() is True  # renewing one's own lease keeps it
        await first.release()
        assert await second.renew() is True
        assert await first.renew() is False
        await second.release()
    finally:
        await connection.aclose()
