"""Secret settings (provider keys, bot tokens) and admin-secret rotation, on real PostgreSQL and Redis.

A secret is answered masked, stored in Redis DB 1 only sealed with the service token, and a rotated admin
secret is honoured by every service sharing that Redis while the old one stops working.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nova_common.app import create_service_app
from nova_common.auth import AdminAuth
from nova_common.config import NovaSettings
from nova_common.resources import open_resources
from nova_common.secretbox import SecretUnreadable, open_config_value

PROVIDER_KEY = "sk-test-provider-key-0123456789abcd"
# The orchestrator fixtures' service token (conftest.SERVICE_TOKEN); sealed values open only with it.
SERVICE_TOKEN = "orchestrator-test-service-token"


def _config_db(redis_base_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)


@pytest.fixture(autouse=True)
def _forget_rotations(redis_base_url: str) -> Iterator[None]:
    """A rotated secret lives in the session's shared Redis: later tests (and stacks) expect the env one."""
    yield
    _config_db(redis_base_url).delete("nova:config:auth.admin_secret")


def test_a_provider_key_is_answered_masked_and_mirrored_sealed(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    response = client.patch("/api/v1/config/llm.api_key.openai", json={"value": PROVIDER_KEY}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_secret"] is True and body["is_set"] is True
    assert body["value"] == "••••abcd"
    listed = {e["key"]: e for e in client.get("/api/v1/config", headers=admin).json()}
    assert listed["llm.api_key.openai"]["value"] == "••••abcd"
    assert listed["llm.api_key.claude-max"] == {
        **listed["llm.api_key.claude-max"],
        "is_set": False,
        "value": None,
    }
    assert PROVIDER_KEY not in client.get("/api/v1/config/llm.api_key.openai", headers=admin).text

    db1 = _config_db(redis_base_url)
    raw = db1.get("nova:config:llm.api_key.openai")
    assert raw is not None and PROVIDER_KEY not in raw
    assert open_config_value(raw, SERVICE_TOKEN) == PROVIDER_KEY
    try:
        open_config_value(raw, "another-service-token-entirely")
    except SecretUnreadable:
        pass
    else:
        raise AssertionError("a different service token must not open the sealed key")
    everything = "".join(str(db1.get(k)) for k in db1.keys("*") if db1.type(k) == "string")
    assert PROVIDER_KEY not in everything

    removed = client.patch("/api/v1/config/llm.api_key.openai", json={"value": None}, headers=admin)
    assert removed.status_code == 200 and removed.json()["value"] is None
    assert removed.json()["is_set"] is False
    listed = {e["key"]: e for e in client.get("/api/v1/config", headers=admin).json()}
    assert listed["llm.api_key.openai"]["is_set"] is False
    assert db1.get("nova:config:llm.api_key.openai") is None


def test_bot_tokens_are_secret_too_and_too_short_keys_are_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.patch(
        "/api/v1/config/telegram.bot_token", json={"value": "123456:abcdefghijkl"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["value"] == "••••ijkl"
    masked = client.patch("/api/v1/config/telegram.bot_token", json={"value": "••••ijkl"}, headers=admin)
    assert masked.status_code == 422 and "masked" in masked.json()["detail"]
    short = client.patch("/api/v1/config/llm.api_key.groq", json={"value": "abc"}, headers=admin)
    assert short.status_code == 422 and "llm.api_key.groq" in short.json()["detail"]


def test_secrets_set_before_a_restart_are_mirrored_again_at_startup(
    settings, admin: dict[str, str], redis_base_url: str
) -> None:
    with TestClient(_orchestrator(settings)) as first:
        first.patch("/api/v1/config/llm.api_key.groq", json={"value": PROVIDER_KEY}, headers=admin)
    db1 = _config_db(redis_base_url)
    db1.flushdb()
    with TestClient(_orchestrator(settings)):
        raw = db1.get("nova:config:llm.api_key.groq")
        assert raw is not None and open_config_value(raw, SERVICE_TOKEN) == PROVIDER_KEY


def _orchestrator(settings) -> FastAPI:  # type: ignore[no-untyped-def]
    from orchestrator.main import create_app

    return create_app(settings)


def _other_service(redis_base_url: str) -> FastAPI:
    """Another Nova service (chat-api's DB number) sharing the Redis: it must honour a rotation."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(app):
            yield

    settings = NovaSettings.model_validate(
        {
            "service_name": "chat-api",
            "REDIS_URL": redis_base_url,
            "NOVA_ADMIN_SECRET": "orchestrator-test-admin-secret",
            "NOVA_SERVICE_TOKEN": SERVICE_TOKEN,
        }
    )
    app = create_service_app(settings, title="other", description="", version="0", lifespan=lifespan)

    @app.get("/admin-only")
    async def admin_only(principal: AdminAuth) -> dict[str, str]:
        return {"kind": principal.kind}

    return app


def test_rotating_the_admin_secret_applies_to_every_service(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    new_secret = "a-brand-new-admin-secret-42"
    with TestClient(_other_service(redis_base_url)) as other:
        assert other.get("/admin-only", headers=admin).status_code == 200
        rotated = client.put("/api/v1/admin/secret", json={"new_secret": new_secret}, headers=admin)
        assert rotated.status_code == 200, rotated.text
        assert "rotated_at" in rotated.json()

        assert client.get("/api/v1/config", headers=admin).status_code == 401
        assert client.get("/api/v1/config", headers={"X-Admin-Secret": new_secret}).status_code == 200

    # A service that starts (or whose 5 s cache expires) after the rotation sees it at once.
    with TestClient(_other_service(redis_base_url)) as later:
        assert later.get("/admin-only", headers=admin).status_code == 401
        assert later.get("/admin-only", headers={"X-Admin-Secret": new_secret}).json() == {"kind": "admin"}

    db1 = _config_db(redis_base_url)
    assert new_secret not in str(db1.get("nova:config:auth.admin_secret"))


def test_a_weak_or_unauthenticated_rotation_is_refused_and_changes_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    too_short = client.put("/api/v1/admin/secret", json={"new_secret": "short"}, headers=admin)
    assert too_short.status_code == 422 and "new_secret" in str(too_short.json()["detail"])
    default = client.put(
        "/api/v1/admin/secret", json={"new_secret": "nova-admin-secret-change-me"}, headers=admin
    )
    assert default.status_code == 400
    anonymous = client.put("/api/v1/admin/secret", json={"new_secret": "x" * 20})
    assert anonymous.status_code == 401
    assert client.get("/api/v1/config", headers=admin).status_code == 200


def test_the_admin_secret_record_cannot_be_read_or_written_through_config(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    client.put("/api/v1/admin/secret", json={"new_secret": "a-rotated-admin-secret-42"}, headers=admin)
    new_admin = {"X-Admin-Secret": "a-rotated-admin-secret-42"}
    record = _config_db(redis_base_url).get("nova:config:auth.admin_secret")
    written = client.patch(
        "/api/v1/config/auth.admin_secret", json={"value": {"hmac_sha256": "0" * 64}}, headers=new_admin
    )
    assert written.status_code == 403 and "reserved" in written.json()["detail"]
    assert client.get("/api/v1/config/auth.admin_secret", headers=new_admin).status_code == 403
    assert (
        client.patch("/api/v1/config/auth.anything", json={"value": None}, headers=new_admin).status_code
        == 403
    )
    assert _config_db(redis_base_url).get("nova:config:auth.admin_secret") == record
    assert client.get("/api/v1/config/nova.name", headers=new_admin).status_code == 200


def test_startup_does_not_mirror_an_auth_row_over_the_rotated_admin_secret(
    settings,
    admin: dict[str, str],
    redis_base_url: str,
    run_sql,  # type: ignore[no-untyped-def]
) -> None:
    with TestClient(_orchestrator(settings)) as first:
        first.put("/api/v1/admin/secret", json={"new_secret": "a-rotated-admin-secret-42"}, headers=admin)
    record = _config_db(redis_base_url).get("nova:config:auth.admin_secret")
    # A row written before `auth.*` was reserved (the fuzzing run did exactly this).
    run_sql(
        "INSERT INTO platform_config (key, value) VALUES ('auth.admin_secret', $1::jsonb)",
        '{"hmac_sha256": "stale"}',
    )
    with TestClient(_orchestrator(settings)) as second:
        assert _config_db(redis_base_url).get("nova:config:auth.admin_secret") == record
        new_admin = {"X-Admin-Secret": "a-rotated-admin-secret-42"}
        keys = {e["key"] for e in second.get("/api/v1/config", headers=new_admin).json()}
        assert "auth.admin_secret" not in keys
