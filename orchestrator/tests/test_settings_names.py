"""The orchestrator's sandbox default has one name, NOVA_DEFAULT_SANDBOX; the old SHELL_SANDBOX is still read,
with a warning, and loses to the new name when both are set."""

from pathlib import Path

import pytest

from nova_contracts.orchestrator import SandboxTier
from orchestrator.config import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in ("NOVA_DEFAULT_SANDBOX", "SHELL_SANDBOX"):
        monkeypatch.delenv(name, raising=False)


def test_nova_default_sandbox_sets_the_tier_of_agents_that_name_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_DEFAULT_SANDBOX", "isolated")
    assert Settings().default_sandbox is SandboxTier.ISOLATED


def test_the_old_shell_sandbox_name_is_read_with_a_deprecation_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHELL_SANDBOX", "isolated")
    with pytest.warns(FutureWarning, match="rename it to NOVA_DEFAULT_SANDBOX"):
        assert Settings().default_sandbox is SandboxTier.ISOLATED


def test_the_new_name_wins_when_both_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELL_SANDBOX", "isolated")
    monkeypatch.setenv("NOVA_DEFAULT_SANDBOX", "nova")
    with pytest.warns(FutureWarning, match="NOVA_DEFAULT_SANDBOX wins"):
        assert Settings().default_sandbox is SandboxTier.NOVA
