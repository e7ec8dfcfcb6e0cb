"""The public status overview, the `.env` editor and the diagnostics bundle."""

import json
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from recovery.config import Settings
from recovery.main import create_app

_SHARED_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _SHARED_TESTS not in sys.path:
    sys.path.insert(0, _SHARED_TESTS)

from fakes.docker_engine_fake import FakeDockerEngine  # noqa: E402
from fakes.server import serve_in_thread  # noqa: E402


def test_status_is_public_and_counts_without_naming_data(
    client: TestClient, make_backup: Callable[..., str]
) -> None:
    make_backup()
    response = client.get("/api/v1/recovery/status")
    assert response.status_code == 200
    status = response.json()
    assert status["database"]["connected"] is True and status["database"]["tables"] > 10
    assert status["database"]["size_bytes"] > 0
    assert status["backups"]["count"] == 1 and status["backups"]["latest_at"]
    assert status["operation"] is None
    assert status["services_total"] >= 1
    assert "memory" not in response.text and "nova-backup" not in response.text


def test_env_editor_masks_secrets_and_lists_only_whitelisted_keys(
    client: TestClient, admin: dict[str, str]
) -> None:
    assert client.get("/api/v1/recovery/env").status_code == 401
    entries = {e["key"]: e for e in client.get("/api/v1/recovery/env", headers=admin).json()["entries"]}
    assert entries["ANTHROPIC_API_KEY"] == {
        "key": "ANTHROPIC_API_KEY",
        "secret": True,
        "set": True,
        "value": "****e-42",
        "restart": ["llm-gateway"],
    }
    assert "NOVA_ADMIN_SECRET" not in entries and "POSTGRES_PASSWORD" not in entries


def test_env_update_is_atomic_keeps_comments_and_names_services_to_restart(
    client: TestClient, admin: dict[str, str], recovery_settings: Settings
) -> None:
    response = client.patch(
        "/api/v1/recovery/env",
        headers=admin,
        json={"updates": {"TELEGRAM_BOT_TOKEN": "123:abc def", "ANTHROPIC_API_KEY": None}},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "changed": ["ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN"],
        "restart_needed": ["chat-bridge", "llm-gateway"],
    }
    text = recovery_settings.env_file.read_text()
    assert "TELEGRAM_BOT_TOKEN='123:abc def'" in text
    assert "ANTHROPIC_API_KEY" not in text
    assert text.startswith("# Nova settings\nNOVA_ADMIN_SECRET=") and "# a provider key" in text
    assert recovery_settings.env_file.stat().st_mode & 0o777 == 0o600
    assert not [p for p in recovery_settings.env_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_env_update_refuses_other_keys_and_multi_line_values(
    client: TestClient, admin: dict[str, str], recovery_settings: Settings
) -> None:
    before = recovery_settings.env_file.read_text()
    refused = client.patch(
        "/api/v1/recovery/env", headers=admin, json={"updates": {"POSTGRES_PASSWORD": "x"}}
    )
    assert refused.status_code == 400 and "POSTGRES_PASSWORD" in refused.json()["detail"]
    multi = client.patch(
        "/api/v1/recovery/env", headers=admin, json={"updates": {"SLACK_BOT_TOKEN": "a\nREQUIRE_AUTH=false"}}
    )
    assert multi.status_code == 400
    assert recovery_settings.env_file.read_text() == before


def test_diagnostics_bundle_has_health_versions_logs_and_no_secrets(
    recovery_settings: Settings, admin: dict[str, str]
) -> None:
    engine = FakeDockerEngine()
    engine.add("orchestrator", logs=["boot", "using key sk-ant-test-secret-value-42 for anthropic", "ready"])
    with serve_in_thread(engine.app) as live:
        settings = recovery_settings.model_copy(update={"docker_host": live.url, "service_manager": "docker"})
        with TestClient(create_app(settings)) as client:
            assert client.get("/api/v1/recovery/diagnostics").status_code == 401
            response = client.get("/api/v1/recovery/diagnostics", headers=admin)
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    bundle = json.loads(response.content)
    assert bundle["versions"]["postgres"] and bundle["versions"]["redis"]
    assert bundle["services"]["services"]
    assert bundle["logs"]["orchestrator"][1] == "using key **** for anthropic"
    for secret in (
        "sk-ant-test-secret-value-42",
        "test-admin-secret-0123456789",
        "test-service-token-0123456789",
    ):
        assert secret not in response.text
    assert settings.database_url.split("@")[0].split(":")[-1] not in response.text  # the database password
