"""One name per environment variable: COMPOSE_PROFILES chooses the opt-in services for `make run` as for
Compose; the launcher's old NOVA_PROFILES still works, with a warning, and never reaches the services."""

from pathlib import Path

import pytest

from nova_common.launcher import Stack, process_env
from nova_common.stack import profiles_of


def test_compose_profiles_choose_the_opt_in_services_without_a_warning(
    recwarn: pytest.WarningsRecorder,
) -> None:
    assert profiles_of({"COMPOSE_PROFILES": "voice, bridges,unknown"}) == {"voice", "bridges"}
    assert profiles_of({}) == set()
    assert not [w for w in recwarn if issubclass(w.category, FutureWarning)]


def test_the_old_nova_profiles_name_is_read_with_a_deprecation_warning() -> None:
    with pytest.warns(FutureWarning, match="rename it to COMPOSE_PROFILES"):
        assert profiles_of({"NOVA_PROFILES": "knowledge"}) == {"knowledge"}


def test_compose_profiles_win_over_the_old_name_and_the_conflict_is_reported() -> None:
    with pytest.warns(FutureWarning, match="ignored because COMPOSE_PROFILES is set"):
        assert profiles_of({"COMPOSE_PROFILES": "voice", "NOVA_PROFILES": "bridges"}) == {"voice"}


def test_services_started_by_the_launcher_see_only_compose_profiles(tmp_path: Path) -> None:
    stack = Stack(tmp_path, {"NOVA_PROFILES": "bridges", "NOVA_ADMIN_SECRET": "x" * 32}, 0, {"voice"}, False)

    env = process_env(stack, "postgresql://db", "redis://127.0.0.1:6379")

    assert env["COMPOSE_PROFILES"] == "voice" and "NOVA_PROFILES" not in env
