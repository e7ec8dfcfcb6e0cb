"""Platform settings: defaults, validated updates, identity, and the Redis DB 1 mirror other services read."""

import json

import redis
from fastapi.testclient import TestClient


def _config_db(redis_base_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)


def test_every_known_setting_is_listed_with_its_default(client: TestClient, admin: dict[str, str]) -> None:
    entries = {e["key"]: e for e in client.get("/api/v1/config", headers=admin).json()}
    assert entries["nova.name"]["value"] == "Nova" and entries["nova.name"]["is_set"] is False
    shares = [
        entries[f"context.{p}_pct"]["value"] for p in ("system", "tools", "memory", "history", "working")
    ]
    assert shares == [10, 15, 40, 20, 15]
    assert entries["llm.routing_strategy"]["value"] is None


def test_startup_mirrors_settings_to_redis_db_1(client: TestClient, redis_base_url: str) -> None:
    db1 = _config_db(redis_base_url)
    assert json.loads(db1.get("nova:config:context.memory_pct") or "null") == 40
    assert json.loads(db1.get("nova:config:nova.name") or "null") == "Nova"


def test_gateway_settings_are_left_to_the_gateway_until_an_admin_sets_them(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    db1 = _config_db(redis_base_url)
    assert db1.get("nova:config:llm.routing_strategy") is None
    client.patch("/api/v1/config/llm.default_chat_model", json={"value": "openai/gpt-4o-mini"}, headers=admin)
    assert db1.get("nova:config:llm.default_chat_model") == '"openai/gpt-4o-mini"'
    client.patch("/api/v1/config/llm.default_chat_model", json={"value": None}, headers=admin)
    assert db1.get("nova:config:llm.default_chat_model") is None


def test_updating_a_setting_is_mirrored_without_restart(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    response = client.patch(
        "/api/v1/config/llm.routing_strategy", json={"value": "cloud-first"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["is_set"] is True
    assert _config_db(redis_base_url).get("nova:config:llm.routing_strategy") == '"cloud-first"'
    assert client.get("/api/v1/config/llm.routing_strategy", headers=admin).json()["value"] == "cloud-first"


def test_renaming_the_ai_changes_the_public_identity(client: TestClient, admin: dict[str, str]) -> None:
    client.patch("/api/v1/config/nova.name", json={"value": "Atlas"}, headers=admin)
    client.patch("/api/v1/config/nova.greeting", json={"value": "Hi, {name} here."}, headers=admin)
    assert client.get("/api/v1/identity").json() == {"name": "Atlas", "greeting": "Hi, Atlas here."}


def test_invalid_values_for_known_settings_are_refused_with_400(
    client: TestClient, admin: dict[str, str]
) -> None:
    for key, value in (
        ("llm.routing_strategy", "random"),
        ("context.memory_pct", 140),
        ("nova.name", ""),
        ("tool_permissions", ["files"]),
    ):
        response = client.patch(f"/api/v1/config/{key}", json={"value": value}, headers=admin)
        assert response.status_code == 400, (key, response.text)


def test_context_shares_may_not_add_up_to_more_than_100_percent(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.patch("/api/v1/config/context.memory_pct", json={"value": 60}, headers=admin)
    assert response.status_code == 400 and "100" in response.json()["detail"]
    assert (
        client.patch("/api/v1/config/context.memory_pct", json={"value": 30}, headers=admin).status_code
        == 200
    )


def test_unknown_key_is_404_until_written(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get("/api/v1/config/custom.flag", headers=admin).status_code == 404
    assert (
        client.patch("/api/v1/config/custom.flag", json={"value": {"on": True}}, headers=admin).status_code
        == 200
    )
    assert client.get("/api/v1/config/custom.flag", headers=admin).json()["value"] == {"on": True}
    assert client.patch("/api/v1/config/Bad Key", json={"value": 1}, headers=admin).status_code == 422


def test_tool_groups_can_be_switched_off_and_on(client: TestClient, admin: dict[str, str]) -> None:
    assert all(client.get("/api/v1/tool-permissions", headers=admin).json()["groups"].values())
    response = client.patch("/api/v1/tool-permissions", json={"groups": {"shell": False}}, headers=admin)
    assert response.json()["groups"]["shell"] is False
    groups = {g["name"]: g for g in client.get("/api/v1/tools", headers=admin).json()}
    assert groups["shell"]["enabled"] is False and groups["files"]["enabled"] is True
    assert (
        client.patch("/api/v1/tool-permissions", json={"groups": {"lasers": True}}, headers=admin).status_code
        == 400
    )
