"""Telegram posts to the public webhook URL: chat-bridge answers to that host, and still to no other."""

from fastapi.testclient import TestClient

from chat_bridge.config import Settings
from chat_bridge.main import create_app


def test_the_webhook_urls_host_is_allowed_and_other_hosts_are_still_refused() -> None:
    app = create_app(Settings(telegram_webhook_url="https://bot.example.org/webhook/telegram"))
    assert TestClient(app, base_url="https://bot.example.org").get("/health/live").status_code == 200
    refused = TestClient(app, base_url="https://evil.example.org").get("/health/live")
    assert refused.status_code == 400
    assert "ALLOWED_HOSTS" in refused.json()["detail"]
