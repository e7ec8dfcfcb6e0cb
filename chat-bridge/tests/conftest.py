"""Fixtures: the fake Telegram and Slack servers, and the bridge served on a real loopback port."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The fake platform servers live in the repo's top-level `tests/fakes`, shared with other services' tests.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import pytest  # noqa: E402
from tests.fakes import LiveServer, serve_in_thread  # noqa: E402
from tests.fakes.slack_fake import TEAM_ID as SLACK_TEAM_ID  # noqa: E402
from tests.fakes.slack_fake import FakeSlack  # noqa: E402
from tests.fakes.telegram_fake import FakeTelegram  # noqa: E402

from chat_bridge.config import Settings  # noqa: E402
from chat_bridge.main import create_app  # noqa: E402
from nova_common.embedded import free_port  # noqa: E402
from nova_common.testing import eventually  # noqa: E402

TELEGRAM_TOKEN = "123456:TEST-telegram-token"
SLACK_BOT_TOKEN = "xoxb-test-bot-token"
SLACK_APP_TOKEN = "xapp-test-app-token"
SLACK_SIGNING_SECRET = "test-signing-secret-0123456789"
ADMIN_SECRET = "test-admin-secret-0123456789"


def wait_for(condition: Callable[[], Any], *, within: float = 20.0, what: str = "condition") -> Any:
    """The kit's `eventually` under this suite's names (the bridge runs in another thread)."""
    return eventually(condition, timeout=within, interval=0.05, what=what)


@pytest.fixture
def telegram() -> Iterator[tuple[FakeTelegram, LiveServer]]:
    fake = FakeTelegram(token=TELEGRAM_TOKEN)
    with serve_in_thread(fake.app()) as server:
        yield fake, server


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlack, LiveServer]]:
    fake = FakeSlack(bot_token=SLACK_BOT_TOKEN, app_token=SLACK_APP_TOKEN)
    with serve_in_thread(fake.app()) as server:
        fake.url = server.url
        yield fake, server


@pytest.fixture
def unreachable_orchestrator() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def bridge_settings(
    nova_env: dict[str, str], redis_base_url: str, unreachable_orchestrator: str
) -> Callable[..., Settings]:
    """Settings for a bridge with no platform configured unless the test says so."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_base_url,
            "orchestrator_url": unreachable_orchestrator,
            "telegram_poll_timeout_seconds": 1,
            **overrides,
        }
        return Settings(**values)

    return make


@contextmanager
def running_bridge(settings: Settings, *, port: int | None = None) -> Iterator[LiveServer]:
    with serve_in_thread(create_app(settings), port=port) as server:
        yield server


def telegram_settings(fake_url: str, **overrides: Any) -> dict[str, Any]:
    """A bot that serves the fake's default chat (111), unless the test gives its own allow-lists."""
    values: dict[str, Any] = {"telegram_bot_token": TELEGRAM_TOKEN, "telegram_api_url": f"{fake_url}/bot"}
    if not any(key.startswith("telegram_allowed_") for key in overrides):
        values["telegram_allowed_chat_ids"] = ["111"]
    return {**values, **overrides}


def slack_settings(fake_url: str, **overrides: Any) -> dict[str, Any]:
    """A bot that serves the fake's workspace, unless the test gives its own allow-lists."""
    values: dict[str, Any] = {
        "slack_bot_token": SLACK_BOT_TOKEN,
        "slack_signing_secret": SLACK_SIGNING_SECRET,
        "slack_api_url": f"{fake_url}/api/",
    }
    if not any(key.startswith("slack_allowed_") for key in overrides):
        values["slack_allowed_team_ids"] = [SLACK_TEAM_ID]
    return {**values, **overrides}


@pytest.fixture
def orchestrator(database_url: str, redis_base_url: str, tmp_path: Path) -> Iterator[Any]:
    """The real orchestrator; llm-gateway and memory-service are absent, so a turn ends in its in-band error."""
    from tests.stack import ServiceProcess, orchestrator_env

    workspace = tmp_path / "workspace"
    workspace.mkdir()
    env = orchestrator_env(
        database_url, redis_base_url, gateway_url=f"http://127.0.0.1:{free_port()}", workspace=workspace
    )
    service = ServiceProcess("orchestrator", env, tmp_path).start()
    yield service
    service.stop()
