"""Every route has the auth level of the reference docs: walked from the OpenAPI document, called bare, with
a key that is not the admin, and with a second key on the first key's resources."""

import json
import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

# Public by design: the dashboard shows the identity before login; probes need no credentials.
PUBLIC = {("GET", "/api/v1/identity"), ("GET", "/health/live"), ("GET", "/health/ready")}
ADMIN_ONLY_PREFIXES = (
    "/api/v1/keys",
    "/api/v1/config",
    "/api/v1/mcp-servers",
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


def _events(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.removeprefix("data:").strip())
        for line in text.splitlines()
        if line.startswith("data:") and line.strip() != "data: [DONE]"
    ]


def _resources_of(client: TestClient, key: dict[str, str]) -> dict[str, str]:
    """One of each resource a key owns, by the path parameter that names it."""
    agent = client.post("/api/v1/agents", json={"config": {"name": "of-a", "memory_tiers": []}}, headers=key)
    assert agent.status_code == 201, agent.text
    agent_id = agent.json()["id"]
    turn = {"agent_id": agent_id, "messages": [{"role": "user", "content": "hello"}]}
    task_id = _events(client.post("/api/v1/tasks/stream", json=turn, headers=key).text)[0]["meta"]["task_id"]
    pipeline = client.post("/api/v1/pipeline/tasks", json={"goal": "write a haiku"}, headers=key)
    assert pipeline.status_code == 202, pipeline.text
    goal = client.post("/api/v1/goals", json={"title": "learn the codebase"}, headers=key)
    assert goal.status_code == 201, goal.text
    ids = {
        "agent_id": agent_id,
        "task_id": task_id,
        "pipeline_task_id": pipeline.json()["id"],
        "goal_id": goal.json()["id"],
    }
    chat = client.post("/api/v1/chat/stream", json={"message": "hi", "agent_id": agent_id}, headers=key)
    if chat.status_code == 200:  # checked by the caller once the walk is done
        ids["conversation_id"] = _events(chat.text)[0]["meta"]["conversation_id"]
    return ids


def _example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A small valid value for a JSON Schema of the document, so that a 422 for the body cannot hide whether
    the owner check ran. An object without required fields (a PATCH) gets its first field."""
    if "$ref" in schema:
        return _example(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    for choice in ("anyOf", "oneOf", "allOf"):
        if choice in schema:
            options = [o for o in schema[choice] if o.get("type") != "null"]
            return _example(options[0], spec)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        names = schema.get("required") or list(properties)[:1]
        return {name: _example(properties[name], spec) for name in names}
    if kind == "array":
        return [_example(schema.get("items", {}), spec) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return "x" * max(1, schema.get("minLength", 1))


def _body(operation: dict[str, Any], spec: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return _example(content["schema"], spec) if content else None


def _with_ids(path: str, ids: dict[str, str]) -> str:
    """`path` naming key A's resources; parameters that name no tenant resource get a random id."""
    if path.startswith("/api/v1/pipeline/"):
        path = path.replace("{task_id}", ids["pipeline_task_id"])
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    path = path.replace("{key}", "nova.name")
    return re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)


def test_a_second_key_gets_403_or_404_on_every_route_naming_the_first_keys_resources(
    client: TestClient, admin: dict[str, str]
) -> None:
    def key(name: str) -> dict[str, str]:
        created = client.post("/api/v1/keys", json={"name": name, "rate_limit_rpm": 10_000}, headers=admin)
        return {"X-API-Key": created.json()["key"]}

    key_a, key_b = key("a"), key("b")
    ids = _resources_of(client, key_a)
    spec = client.get("/openapi.json").json()
    walked = 0
    for template, operations in spec["paths"].items():
        if "{" not in template:
            continue
        path = _with_ids(template, ids)
        for method, operation in operations.items():
            response = client.request(method.upper(), path, headers=key_b, json=_body(operation, spec))
            # A route that takes no API key (admin or service only) refuses key B with 401; one that does answers
            # 403/404 on key A's resource (pods are shared config: a random pod id is simply not found).
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
            allowed = {403, 404} if "ApiKey" in schemes else {401}
            assert response.status_code in allowed, (method, template, response.status_code, response.text)
            walked += 1
    assert walked >= 20
    assert "conversation_id" in ids, "key A could not start a conversation"
    assert (
        client.get(f"/api/v1/pipeline/events?task_id={ids['pipeline_task_id']}", headers=key_b).status_code
        == 404
    )

    # Key B's lists do not show A's resources; key A still reaches every one of them.
    listed = json.dumps(
        [
            client.get(p, headers=key_b).json()
            for p in ("/api/v1/agents", "/api/v1/pipeline/tasks", "/api/v1/conversations")
        ]
    )
    assert not any(value in listed for value in ids.values())
    for path in (
        f"/api/v1/agents/{ids['agent_id']}",
        f"/api/v1/tasks/{ids['task_id']}",
        f"/api/v1/pipeline/tasks/{ids['pipeline_task_id']}",
        f"/api/v1/conversations/{ids['conversation_id']}",
    ):
        assert client.get(path, headers=key_a).status_code == 200, path
