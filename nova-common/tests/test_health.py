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

ADMIN_SECRET = "health-admin-secret-0123456789"
SERVICE_TOKEN = "health-service-token-0123456789"


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
            "NOVA_ADMIN_SECRET": ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
        }
    )
    app = create_service_app(settings, title="t", description="", version="1.2.3", lifespan=lifespan)
    app.state.health.add_details(
        "mcp_servers",
        lambda: {"tools": {"state": "error", "error": "stderr: token=abc123 leaked", "tools": 0}},
    )
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


def test_public_readiness_names_the_failing_check_without_its_error_text(
    own_servers: tuple[EmbeddedPostgres, EmbeddedRedis],
) -> None:
    pg, rd = own_servers
    with _client(pg, rd) as client:
        rd.stop()
        response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["detail"] == "not ready: redis"
    redis_check = _check(body, "redis")
    assert redis_check["status"] == "down" and redis_check["latency_ms"] >= 0
    assert all(check["detail"] is None for check in body["checks"])  # the gateway's connect error too
    assert body["details"]["mcp_servers"] == {"tools": {"state": "error", "tools": 0}}
    assert "abc123" not in response.text and "Error" not in response.text


@pytest.mark.parametrize(
    "credential",
    [{"X-Admin-Secret": ADMIN_SECRET}, {"X-Service-Token": SERVICE_TOKEN}],
    ids=["admin", "service"],
)
def test_the_admin_and_services_see_the_error_text(
    own_servers: tuple[EmbeddedPostgres, EmbeddedRedis], credential: dict[str, str]
) -> None:
    pg, rd = own_servers
    with _client(pg, rd) as client:
        rd.stop()
        body = client.get("/health/ready", headers=credential).json()
        wrong = client.get("/health/ready", headers={k: v + "x" for k, v in credential.items()}).json()
    assert body["detail"].startswith("not ready: redis (") and "Error" in body["detail"]
    assert _check(body, "redis")["detail"] and _check(body, "llm-gateway")["detail"]
    assert body["details"]["mcp_servers"]["tools"]["error"] == "stderr: token=abc123 leaked"
    assert wrong["detail"] == "not ready: redis"
