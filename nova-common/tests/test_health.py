"""Readiness follows the real dependencies: 503 naming the one that is down, 200 again once it is back."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nova_common.app import create_service_app
from nova_common.config import DatabaseSettings
from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from nova_common.resources import open_resources


@pytest.fixture
def own_servers(tmp_path: Path) -> Iterator[tuple[EmbeddedPostgres, EmbeddedRedis]]:
    """Servers of this test alone, since the test stops and restarts them."""
    pg = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    rd = EmbeddedRedis(tmp_path / "redis", port=free_port())
    pg.start()
    rd.start()
    yield pg, rd
    rd.stop()
    pg.destroy()


def _client(pg: EmbeddedPostgres, rd: EmbeddedRedis) -> TestClient:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, postgres=True, peers=("llm-gateway",)):
            yield

    settings = DatabaseSettings.model_validate(
        {
            "service_name": "cortex",
            "DATABASE_URL": pg.url,
            "REDIS_URL": rd.url,
            "LLM_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
        }
    )
    app = create_service_app(settings, title="t", description="", version="1.2.3", lifespan=lifespan)
    return TestClient(app)


def _check(body: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in body["checks"] if c["name"] == name)


def test_liveness_answers_without_touching_dependencies(
    own_servers: tuple[EmbeddedPostgres, EmbeddedRedis],
) -> None:
    with _client(*own_servers) as client:
        body = client.get("/health/live").json()
    assert body["service"] == "cortex" and body["status"] == "alive" and body["version"] == "1.2.3"


def test_readiness_reports_each_dependency_with_latency(
    own_servers: tuple[EmbeddedPostgres, EmbeddedRedis],
) -> None:
    with _client(*own_servers) as client:
        response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    for name in ("postgres", "redis"):
        assert _check(body, name)["status"] == "ok"
        assert _check(body, name)["latency_ms"] >= 0
    # A peer that is down is reported but, being optional, does not make the service unready.
    gateway = _check(body, "llm-gateway")
    assert gateway["status"] == "down" and gateway["required"] is False


def test_readiness_turns_503_when_postgres_stops_and_recovers_when_it_restarts(
    own_servers: tuple[EmbeddedPostgres, EmbeddedRedis],
) -> None:
    pg, rd = own_servers
    with _client(pg, rd) as client:
        assert client.get("/health/ready").status_code == 200
        pg.stop()
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert _check(response.json(), "postgres")["status"] == "down"
        assert "postgres" in response.json()["detail"]
        pg.start()
        assert client.get("/health/ready").status_code == 200


def test_readiness_turns_503_when_redis_stops_and_recovers_when_it_restarts(
    own_servers: tuple[EmbeddedPostgres, EmbeddedRedis],
) -> None:
    pg, rd = own_servers
    with _client(pg, rd) as client:
        assert client.get("/health/ready").status_code == 200
        rd.stop()
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert _check(response.json(), "redis")["status"] == "down"
        assert "redis" in response.json()["detail"]
        rd.start()
        assert client.get("/health/ready").status_code == 200
