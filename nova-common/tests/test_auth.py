"""Admin secret and service token checks of the kit, on a real app served in-process."""

from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nova_common.app import create_service_app
from nova_common.auth import AdminAuth, ApiKeyAuth, ServiceAuth, generate_api_key, hash_api_key
from nova_common.config import NovaSettings


@asynccontextmanager
async def _no_resources(app: FastAPI):  # type: ignore[no-untyped-def]
    yield


def _app(**settings: object) -> TestClient:
    values = {"NOVA_ADMIN_SECRET": "a" * 8 + "-admin-secret-1234", "NOVA_SERVICE_TOKEN": "s" * 24}
    values.update({k: v for k, v in settings.items()})
    app = create_service_app(
        NovaSettings.model_validate(values), title="t", description="", version="0", lifespan=_no_resources
    )

    @app.get("/admin-only")
    async def admin_only(principal: AdminAuth) -> dict[str, str]:
        return {"kind": principal.kind}

    @app.get("/internal")
    async def internal(principal: ServiceAuth) -> dict[str, str]:
        return {"kind": principal.kind}

    @app.get("/keyed")
    async def keyed(principal: ApiKeyAuth) -> dict[str, str]:
        return {"kind": principal.kind}

    return TestClient(app)


ADMIN = "aaaaaaaa-admin-secret-1234"


def test_admin_route_accepts_the_right_secret() -> None:
    response = _app().get("/admin-only", headers={"X-Admin-Secret": ADMIN})
    assert response.status_code == 200
    assert response.json() == {"kind": "admin"}


def test_admin_route_rejects_a_wrong_secret_with_401() -> None:
    response = _app().get("/admin-only", headers={"X-Admin-Secret": ADMIN + "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "invalid admin secret"


def test_admin_route_rejects_a_missing_header_with_401_naming_it() -> None:
    response = _app().get("/admin-only")
    assert response.status_code == 401
    assert "X-Admin-Secret" in response.json()["detail"]


@pytest.mark.parametrize("configured", ["", "changeme", "nova-admin-secret-change-me", "short"])
def test_admin_route_is_disabled_when_no_usable_secret_is_configured(configured: str) -> None:
    client = _app(NOVA_ADMIN_SECRET=configured)
    response = client.get("/admin-only", headers={"X-Admin-Secret": configured})
    assert response.status_code == 503
    assert "NOVA_ADMIN_SECRET" in response.json()["detail"]


def test_require_auth_false_never_bypasses_admin_auth() -> None:
    assert _app(REQUIRE_AUTH="false").get("/admin-only").status_code == 401


def test_service_token_opens_internal_routes() -> None:
    client = _app()
    assert client.get("/internal", headers={"X-Service-Token": "s" * 24}).json() == {"kind": "service"}
    assert client.get("/internal", headers={"X-Admin-Secret": ADMIN}).json() == {"kind": "admin"}


def test_internal_route_rejects_wrong_or_missing_service_token() -> None:
    client = _app()
    assert client.get("/internal", headers={"X-Service-Token": "t" * 24}).status_code == 401
    assert client.get("/internal").status_code == 401


def test_api_key_routes_are_open_when_auth_is_not_required() -> None:
    assert _app(REQUIRE_AUTH="false").get("/keyed").json() == {"kind": "anonymous"}


def test_api_key_routes_need_a_key_when_auth_is_required() -> None:
    response = _app(REQUIRE_AUTH="true").get("/keyed")
    assert response.status_code == 401
    assert "sk-nova-" in response.json()["detail"]


def test_malformed_api_key_is_rejected_before_any_lookup() -> None:
    response = _app(REQUIRE_AUTH="true").get("/keyed", headers={"X-API-Key": "not-a-nova-key"})
    assert response.status_code == 401
    assert "malformed" in response.json()["detail"]


def test_generated_api_keys_are_unique_and_hashed_with_sha256() -> None:
    first, second = generate_api_key(), generate_api_key()
    assert first.raw != second.raw
    assert first.raw.startswith("sk-nova-") and len(first.raw) > 40
    assert first.key_hash == hash_api_key(first.raw) and len(first.key_hash) == 64
    assert first.raw.startswith(first.prefix) and first.raw not in first.key_hash
