"""Admin secret and service token checks of the kit, on a real app served in-process."""

import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from nova_common.app import create_service_app
from nova_common.auth import AdminAuth, ApiKeyAuth, ServiceAuth, generate_api_key, hash_api_key
from nova_common.config import NovaSettings
from nova_common.embedded import free_port
from nova_common.server import uvicorn_options


@asynccontextmanager
async def _no_resources(app: FastAPI):  # type: ignore[no-untyped-def]
    yield


# Starlette's TestClient calls from the peer `testclient`; these tests say which peer they are.
LOOPBACK_PEER = ("127.0.0.1", 50000)


def _service(**settings: object) -> FastAPI:
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

    @app.post("/keyed-form")
    async def keyed_form(principal: ApiKeyAuth) -> dict[str, str]:
        return {"kind": principal.kind}

    @app.get("/peer")
    async def peer(request: Request) -> dict[str, str | None]:
        assert request.client is not None
        return {"client": request.client.host, "forwarded_for": getattr(request.state, "forwarded_for", None)}

    return app


def _app(
    *,
    client: tuple[str, int] = ("testclient", 50000),
    base_url: str = "http://testserver",
    **settings: object,
) -> TestClient:
    return TestClient(_service(**settings), base_url=base_url, client=client)


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


def test_auth_is_required_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.delenv("REQUIRE_AUTH", raising=False)
    assert NovaSettings().require_auth is True
    response = _app(client=LOOPBACK_PEER, base_url="http://127.0.0.1:8000").get("/keyed")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("127.0.0.1", "127.0.0.1:8000"),
        ("127.0.0.1", "localhost:3000"),
        ("::1", "[::1]:8001"),
        ("127.0.0.1", "localhost"),
    ],
)
def test_require_auth_false_admits_a_direct_local_caller_without_a_key(peer: str, host: str) -> None:
    client = _app(REQUIRE_AUTH="false", client=(peer, 50000), base_url="http://127.0.0.1")
    assert client.get("/keyed", headers={"Host": host}).json() == {"kind": "anonymous"}


def test_require_auth_false_still_needs_a_key_from_another_machine() -> None:
    client = _app(REQUIRE_AUTH="false", client=("192.168.1.20", 50000), base_url="http://127.0.0.1:8000")
    response = client.get("/keyed")
    assert response.status_code == 401
    assert "only direct local requests" in response.json()["detail"]


@pytest.mark.parametrize("host", ["orchestrator:8000", "nova.localhost:8000", "evil.example"])
def test_require_auth_false_still_needs_a_key_when_the_host_is_not_a_loopback_name(host: str) -> None:
    # `*` lets evil.example past the Host check, as it would for an operator behind their own proxy.
    client = _app(REQUIRE_AUTH="false", ALLOWED_HOSTS="*", client=LOOPBACK_PEER, base_url="http://127.0.0.1")
    assert client.get("/keyed", headers={"Host": host}).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "203.0.113.9"},
        {"X-Forwarded-Host": "localhost"},
        {"Forwarded": "for=203.0.113.9"},
        {"X-Real-IP": "203.0.113.9"},
    ],
)
def test_require_auth_false_still_needs_a_key_through_a_proxy(header: dict[str, str]) -> None:
    client = _app(REQUIRE_AUTH="false", client=LOOPBACK_PEER, base_url="http://127.0.0.1:8000")
    assert client.get("/keyed", headers=header).status_code == 401


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://nova.localhost:3000"])
def test_require_auth_false_still_needs_a_key_from_a_page_of_another_site(origin: str) -> None:
    client = _app(REQUIRE_AUTH="false", client=LOOPBACK_PEER, base_url="http://127.0.0.1:8000")
    assert client.post("/keyed-form", headers={"Origin": origin}).status_code == 401


def test_require_auth_false_admits_a_page_served_from_this_machine() -> None:
    client = _app(REQUIRE_AUTH="false", client=LOOPBACK_PEER, base_url="http://127.0.0.1:8000")
    assert client.post("/keyed-form", headers={"Origin": "http://127.0.0.1:3000"}).json() == {
        "kind": "anonymous"
    }


@pytest.fixture
def served_with_kit_options() -> Iterator[str]:
    """`_service` behind a real uvicorn run with the kit's options, a trusted proxy configured."""
    app = _service(TRUSTED_PROXIES="127.0.0.1", REQUIRE_AUTH="false")
    options = {**uvicorn_options(app.state.settings), "port": free_port(), "lifespan": "on"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    try:
        yield f"http://127.0.0.1:{options['port']}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_proxy_hop_never_makes_a_caller_local_and_its_client_address_is_only_logged(
    served_with_kit_options: str,
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    peer = httpx.get(f"{served_with_kit_options}/peer", headers=forwarded).json()
    assert peer == {"client": "127.0.0.1", "forwarded_for": "203.0.113.9"}
    assert httpx.get(f"{served_with_kit_options}/keyed", headers=forwarded).status_code == 401
    assert httpx.get(f"{served_with_kit_options}/keyed").json() == {"kind": "anonymous"}


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
