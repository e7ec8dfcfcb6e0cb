"""Secrets are generated into .env on first start, never a well-known default, and kept afterwards."""

from pathlib import Path

import pytest
from dotenv import dotenv_values

from nova_common.envfile import GENERATED_SECRETS, ensure_secrets


@pytest.fixture(autouse=True)
def _no_secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in GENERATED_SECRETS:
        monkeypatch.delenv(name, raising=False)


def test_first_start_generates_every_secret_into_a_private_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    assert ensure_secrets(env) == list(GENERATED_SECRETS)
    values = dotenv_values(env)
    assert all(len(values[name] or "") >= 32 for name in GENERATED_SECRETS)
    assert len({values[name] for name in GENERATED_SECRETS}) == len(GENERATED_SECRETS)
    assert env.stat().st_mode & 0o777 == 0o600


def test_second_start_keeps_the_secrets(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    ensure_secrets(env)
    before = env.read_text()
    assert ensure_secrets(env) == []
    assert env.read_text() == before


def test_a_well_known_default_is_replaced_and_other_settings_kept(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("GROQ_API_KEY=gsk_abc\nNOVA_ADMIN_SECRET=nova-admin-secret-change-me\n")
    assert "NOVA_ADMIN_SECRET" in ensure_secrets(env)
    values = dotenv_values(env)
    assert values["GROQ_API_KEY"] == "gsk_abc"
    assert values["NOVA_ADMIN_SECRET"] != "nova-admin-secret-change-me"
    assert env.read_text().count("NOVA_ADMIN_SECRET=") == 1


def test_a_secret_given_in_the_environment_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_ADMIN_SECRET", "x" * 40)
    env = tmp_path / ".env"
    assert "NOVA_ADMIN_SECRET" not in ensure_secrets(env)
    assert "NOVA_ADMIN_SECRET" not in dotenv_values(env)
