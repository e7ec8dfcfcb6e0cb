"""API-key authentication backed by the orchestrator's real `api_keys` table."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nova_common.app import create_service_app
from nova_common.auth import ApiKeyAuth, generate_api_key
from nova_common.config import DatabaseSettings
from nova_common.resources import open_resources
from orchestrator.db.migrations import apply_migrations
from orchestrator.keys.repository import ApiKeyRepository


@pytest.fixture
def client(database_url: str, redis_base_url: str) -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app, postgres=True) as resources:
            assert resources.pg is not None
            async with resources.pg.acquire() as conn:
                await apply_migrations(conn)
            app.state.api_key_store = ApiKeyRepository(resources.pg)
            yield

    settings = DatabaseSettings.model_validate(
        {
            "service_name": "orchestrator",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url,
            "REQUIRE_AUTH": "true",
            "NOVA_ADMIN_SECRET": "orchestrator-test-admin-secret",
        }
    )
    app = create_service_app(settings, title="t", description="", version="0", lifespan=lifespan)

    @app.get("/whoami")
    async def whoami(principal: ApiKeyAuth) -> dict[str, str | None]:
        return {"kind": principal.kind, "name": principal.key.name if principal.key else None}

    with TestClient(app) as test_client:
        yield test_client


def _issue(client: TestClient, name: str, **extra: object) -> tuple[str, str]:
    key = generate_api_key()
    repo: ApiKeyRepository = client.app.state.api_key_store  # type: ignore[attr-defined]
    row = client.portal.call(
        lambda: repo.insert(  # type: ignore[union-attr]
            name=name,
            key_hash=key.key_hash,
            key_prefix=key.prefix,
            rate_limit_rpm=60,
            expires_at=extra.get("expires_at"),
        )
    )
    return key.raw, str(row["id"])


def test_key_is_accepted_as_bearer_token(client: TestClient) -> None:
    raw, _ = _issue(client, "ide")
    response = client.get("/whoami", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json() == {"kind": "api_key", "name": "ide"}


def test_key_is_accepted_in_x_api_key_header(client: TestClient) -> None:
    raw, _ = _issue(client, "script")
    assert client.get("/whoami", headers={"X-API-Key": raw}).json() == {"kind": "api_key", "name": "script"}


def test_only_the_hash_is_stored(client: TestClient) -> None:
    raw, key_id = _issue(client, "hashed")
    repo: ApiKeyRepository = client.app.state.api_key_store  # type: ignore[attr-defined]
    stored = client.portal.call(
        lambda: repo.pool.fetchrow("SELECT * FROM api_keys WHERE id = $1::uuid", key_id)
    )  # type: ignore[union-attr]
    assert raw not in [str(v) for v in stored.values()]


def test_unknown_key_is_rejected_with_401(client: TestClient) -> None:
    unknown = generate_api_key().raw
    response = client.get("/whoami", headers={"X-API-Key": unknown})
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown API key"


def test_revoked_key_is_rejected_with_401(client: TestClient) -> None:
    raw, key_id = _issue(client, "old")
    repo: ApiKeyRepository = client.app.state.api_key_store  # type: ignore[attr-defined]
    import uuid

    assert client.portal.call(repo.revoke, uuid.UUID(key_id)) is True  # type: ignore[union-attr]
    response = client.get("/whoami", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "API key revoked"


def test_expired_key_is_rejected_with_401(client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    raw, _ = _issue(client, "temp", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    response = client.get("/whoami", headers={"X-API-Key": raw})
    assert response.status_code == 401
    assert response.json()["detail"] == "API key expired"


def test_missing_key_is_rejected_when_auth_is_required(client: TestClient) -> None:
    assert client.get("/whoami").status_code == 401
