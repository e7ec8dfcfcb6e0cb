"""API keys: issued once, listed without the secret, revoked, validated for other services, rate limited."""

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient


def _issue(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/keys", json={"name": "ide", **body}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_created_key_is_shown_once_and_listed_by_prefix_only(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = _issue(client, admin, rate_limit_rpm=120)
    assert created["key"].startswith("sk-nova-") and created["key"].startswith(created["key_prefix"])

    listed = client.get("/api/v1/keys", headers=admin).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and created["key"] not in str(listed)
    assert listed[0]["rate_limit_rpm"] == 120


def test_revoked_key_is_refused_and_validates_as_revoked(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    created = _issue(client, admin)
    headers = {"X-API-Key": created["key"]}
    assert client.get("/api/v1/agents", headers=headers).status_code == 200

    assert client.delete(f"/api/v1/keys/{created['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/agents", headers=headers).status_code == 401
    validation = client.get("/api/v1/keys/validate", headers={**service, **headers}).json()
    assert validation == {
        "valid": False,
        "key_id": created["id"],
        "name": "ide",
        "rate_limit_rpm": 60,
        "reason": "revoked",
    }
    assert client.get("/api/v1/keys", headers=admin).json()[0]["revoked_at"] is not None


def test_validate_answers_200_with_the_reason_for_unknown_malformed_and_missing_keys(
    client: TestClient, service: dict[str, str]
) -> None:
    def reason(key: str | None) -> tuple[int, Any]:
        headers = {**service, **({"X-API-Key": key} if key is not None else {})}
        response = client.get("/api/v1/keys/validate", headers=headers)
        return response.status_code, response.json().get("reason")

    assert reason("sk-nova-" + "x" * 40) == (200, "unknown")
    assert reason("not-a-nova-key") == (200, "malformed")
    assert reason(None) == (200, "missing")


def test_validate_reports_a_live_key_with_its_limit(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    created = _issue(client, admin, rate_limit_rpm=30)
    validation = client.get("/api/v1/keys/validate", headers={**service, "X-API-Key": created["key"]}).json()
    assert validation["valid"] is True
    assert (validation["key_id"], validation["rate_limit_rpm"], validation["reason"]) == (
        created["id"],
        30,
        None,
    )


def test_validate_accepts_the_keys_hash_instead_of_the_key(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    created = _issue(client, admin)
    digest = hashlib.sha256(created["key"].encode()).hexdigest()
    validation = client.get(f"/api/v1/keys/validate?key_hash={digest}", headers=service).json()
    assert (validation["valid"], validation["key_id"]) == (True, created["id"])
    unknown = client.get(f"/api/v1/keys/validate?key_hash={'0' * 64}", headers=service).json()
    assert unknown["reason"] == "unknown"
    assert client.get("/api/v1/keys/validate?key_hash=xyz", headers=service).status_code == 422


def test_validate_is_only_for_services(client: TestClient, admin: dict[str, str]) -> None:
    created = _issue(client, admin)
    assert client.get("/api/v1/keys/validate", headers={"X-API-Key": created["key"]}).status_code == 401
    wrong_token = {"X-Service-Token": "not-the-service-token", "X-API-Key": created["key"]}
    assert client.get("/api/v1/keys/validate", headers=wrong_token).status_code == 401


def test_revoking_an_unknown_key_is_404(client: TestClient, admin: dict[str, str]) -> None:
    assert client.delete(f"/api/v1/keys/{uuid.uuid4()}", headers=admin).status_code == 404


def test_key_over_its_rpm_gets_429_with_retry_after(client: TestClient, admin: dict[str, str]) -> None:
    created = _issue(client, admin, rate_limit_rpm=3)
    headers = {"Authorization": f"Bearer {created['key']}"}
    statuses = [client.get("/api/v1/agents", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/agents", headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another key has its own window.
    other = _issue(client, admin, rate_limit_rpm=3)
    assert client.get("/api/v1/agents", headers={"X-API-Key": other["key"]}).status_code == 200


def test_last_used_at_is_recorded_after_the_request(
    client: TestClient, admin: dict[str, str], wait_until: Callable[..., Any]
) -> None:
    created = _issue(client, admin)
    assert client.get("/api/v1/keys", headers=admin).json()[0]["last_used_at"] is None
    client.get("/api/v1/agents", headers={"X-API-Key": created["key"]})
    wait_until(lambda: client.get("/api/v1/keys", headers=admin).json()[0]["last_used_at"])


def test_rate_limit_is_shared_by_two_orchestrator_processes(
    orchestrator_process: Callable[..., str], admin: dict[str, str]
) -> None:
    first, second = orchestrator_process(), orchestrator_process()
    key = httpx.post(
        f"{first}/api/v1/keys", json={"name": "shared", "rate_limit_rpm": 4}, headers=admin
    ).json()
    headers = {"X-API-Key": key["key"]}
    statuses = [httpx.get(f"{url}/api/v1/agents", headers=headers).status_code for url in (first, second) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]
    refused = httpx.get(f"{second}/api/v1/agents", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
