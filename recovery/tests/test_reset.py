"""Factory reset: exactly the chosen categories go, everything else stays, table by table and key by key."""

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import redis
from fastapi.testclient import TestClient

from recovery.config import Settings

Snapshot = Callable[[], tuple[Any, Any]]
RESET = "/api/v1/recovery/reset"


def test_categories_list_their_tables_and_redis_patterns_publicly(client: TestClient) -> None:
    response = client.get(f"{RESET}/categories")
    assert response.status_code == 200
    categories = {c["name"]: c for c in response.json()["categories"]}
    assert set(categories) == {
        "chat_history",
        "pipeline_history",
        "memories",
        "goals_and_cortex",
        "feeds_and_knowledge",
        "api_keys",
        "provider_keys_and_settings",
        "backups",
    }
    assert categories["chat_history"]["tables"] == ["messages", "conversations"]
    assert {"db": 3, "pattern": "nova:chat:*"} in categories["chat_history"]["redis"]


def test_reset_of_chat_history_removes_only_chats_after_a_backup(
    client: TestClient, snapshot: Snapshot, admin: dict[str, str]
) -> None:
    tables_before, keys_before = snapshot()
    response = client.post(RESET, headers=admin, json={"categories": ["chat_history"], "confirm": "RESET"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows_deleted"] == {"messages": 2, "conversations": 1}
    assert report["redis_keys_deleted"] == 1

    tables_after, keys_after = snapshot()
    assert tables_after["messages"] == [] and tables_after["conversations"] == []
    for table, rows in tables_before.items():
        if table not in ("messages", "conversations"):
            assert tables_after[table] == rows, table
    assert {k: v for k, v in keys_before.items() if not k[1].startswith(b"nova:chat:")} == keys_after

    backups = client.get("/api/v1/recovery/backups", headers=admin).json()["backups"]
    assert [b["name"] for b in backups] == [report["backup"]]
    assert backups[0]["reason"] == "before-reset"


def test_reset_without_the_typed_confirmation_changes_nothing(
    client: TestClient, snapshot: Snapshot, admin: dict[str, str]
) -> None:
    before = snapshot()
    response = client.post(RESET, headers=admin, json={"categories": ["memories"], "confirm": "reset"})
    assert response.status_code == 400
    assert "RESET" in response.json()["detail"]
    assert snapshot() == before


def test_reset_of_api_keys_still_referenced_by_kept_chats_is_refused_naming_them(
    client: TestClient, snapshot: Snapshot, admin: dict[str, str]
) -> None:
    before = snapshot()
    response = client.post(RESET, headers=admin, json={"categories": ["api_keys"], "confirm": "RESET"})
    assert response.status_code == 409
    assert "conversations" in response.json()["detail"] and "chat_history" in response.json()["detail"]
    assert snapshot() == before

    both = client.post(
        RESET,
        headers=admin,
        json={"categories": ["api_keys", "chat_history"], "confirm": "RESET", "backup_first": False},
    )
    assert both.status_code == 200, both.text
    assert both.json()["backup"] is None
    assert both.json()["rows_deleted"]["api_keys"] == 1


def test_reset_of_settings_keeps_the_rotated_admin_secret(
    client: TestClient,
    admin: dict[str, str],
    redis_base_url: str,
    snapshot: Snapshot,
    nova_env: dict[str, str],
) -> None:
    config = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1")
    # A rotation to the same secret: the admin keeps access, and the record must survive the reset.
    digest = hmac.new(
        nova_env["NOVA_SERVICE_TOKEN"].encode(), admin["X-Admin-Secret"].encode(), hashlib.sha256
    )
    config.set("nova:config:auth.admin_secret", json.dumps({"hmac_sha256": digest.hexdigest()}))
    tables_before, _ = snapshot()
    response = client.post(
        RESET,
        headers=admin,
        json={"categories": ["provider_keys_and_settings"], "confirm": "RESET", "backup_first": False},
    )
    assert response.status_code == 200, response.text
    assert config.get("nova:config:llm.default_chat_model") is None
    assert config.get("nova:config:auth.admin_secret") is not None
    config.close()
    tables_after, _ = snapshot()
    assert tables_after["platform_config"] == []
    assert tables_after["memories"] == tables_before["memories"]


def test_reset_of_backups_keeps_only_the_one_made_before_it(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    old = make_backup()
    response = client.post(RESET, headers=admin, json={"categories": ["backups"], "confirm": "RESET"})
    assert response.status_code == 200
    names = [p.name for p in recovery_settings.backup_dir.glob("*.tar")]
    assert old not in names and names == [response.json()["backup"]]


def test_reset_needs_the_admin_secret(client: TestClient) -> None:
    response = client.post(RESET, json={"categories": ["memories"], "confirm": "RESET"})
    assert response.status_code == 401
