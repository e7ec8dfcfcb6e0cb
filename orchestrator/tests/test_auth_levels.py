"""Every route has the auth level of the reference docs: walked from the OpenAPI document, called bare."""

import uuid

from fastapi.testclient import TestClient

# Public by design: the dashboard shows the identity before login; probes need no credentials.
PUBLIC = {("GET", "/api/v1/identity"), ("GET", "/health/live"), ("GET", "/health/ready")}
ADMIN_ONLY_PREFIXES = (
    "/api/v1/keys",
    "/api/v1/config",
    "/api/v1/mcp-servers",
    "/api/v1/chat",
    "/api/v1/conversations",
    "/api/v1/tools",
    "/api/v1/tool-permissions",
    "/api/v1/usage",
)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        for method in operations:
            concrete = path
            for name in ("agent_id", "task_id", "key_id", "server_id", "conversation_id"):
                concrete = concrete.replace("{" + name + "}", str(uuid.uuid4()))
            concrete = concrete.replace("{key}", "nova.name")
            routes.append((method.upper(), concrete))
    return routes


def test_every_route_except_identity_and_health_refuses_a_caller_without_credentials(
    client: TestClient,
) -> None:
    routes = _routes(client)
    assert len(routes) > 30
    for method, path in routes:
        template = path if (method, path) in PUBLIC else None
        response = client.request(method, path, json={} if method in ("POST", "PATCH", "PUT") else None)
        if template is not None:
            assert response.status_code == 200, (method, path, response.text)
        else:
            assert response.status_code == 401, (method, path, response.status_code, response.text)


def test_admin_routes_refuse_an_api_key_that_is_not_the_admin_secret(
    client: TestClient, admin: dict[str, str]
) -> None:
    raw = client.post("/api/v1/keys", json={"name": "ide"}, headers=admin).json()["key"]
    for method, path in _routes(client):
        if not path.startswith(ADMIN_ONLY_PREFIXES) or path == "/api/v1/keys/validate":
            continue
        response = client.request(
            method, path, headers={"X-API-Key": raw}, json={} if method != "GET" else None
        )
        assert response.status_code == 401, (method, path, response.status_code)


def test_agent_routes_accept_an_api_key(client: TestClient, admin: dict[str, str]) -> None:
    raw = client.post("/api/v1/keys", json={"name": "ide"}, headers=admin).json()["key"]
    assert client.get("/api/v1/agents", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert (
        client.get("/v1/models", headers={"Authorization": f"Bearer {raw}"}).json()["data"][0]["id"] == "nova"
    )


def test_identity_is_public_and_resolves_the_name_placeholder(client: TestClient) -> None:
    identity = client.get("/api/v1/identity").json()
    assert identity["name"] == "Nova"
    assert "{name}" not in identity["greeting"] and "Nova" in identity["greeting"]
