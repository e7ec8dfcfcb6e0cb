"""The Telegram adapter through the real python-telegram-bot, against the fake Bot API on loopback."""

import httpx
import redis
from tests.fakes.telegram_fake import FakeTelegram

from chat_bridge.adapters.base import NON_TEXT
from chat_bridge.adapters.telegram import HELP, refusal
from chat_bridge.conversations import UNREACHABLE
from nova_common.embedded import free_port

from .conftest import ADMIN_SECRET, running_bridge, telegram_settings, wait_for


def _texts(fake: FakeTelegram, chat_id: int = 111) -> list[str]:
    return [m.text for m in fake.messages_to(chat_id)]


def test_polling_mode_answers_start_with_the_command_list(telegram, bridge_settings) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url))):
        fake.push_update(fake.text_update("/start"))

        assert wait_for(lambda: _texts(fake), what="a reply to /start") == [HELP]
    assert fake.webhook == {}
    assert fake.get_updates_calls > 0


def test_new_forgets_the_chat_session_so_the_next_message_starts_fresh(
    telegram, bridge_settings, redis_base_url
) -> None:
    fake, server = telegram
    db4 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/4")
    db4.set("nova:bridge:telegram:111", '{"session_id": "s-old", "created_at": "2025-05-01T00:00:00Z"}')
    with running_bridge(bridge_settings(**telegram_settings(server.url))):
        fake.push_update(fake.text_update("/new"))

        assert wait_for(lambda: _texts(fake), what="a reply to /new") == ["Started a fresh conversation."]
    assert db4.get("nova:bridge:telegram:111") is None


def test_status_says_when_nova_cannot_be_reached(telegram, bridge_settings) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url))):
        fake.push_update(fake.text_update("/status"))

        reply = wait_for(lambda: _texts(fake), what="a reply to /status")[0]
    assert reply.startswith("Nova can't be reached right now.")
    assert "No conversation yet" in reply


def test_unknown_command_and_photo_get_a_clear_answer(telegram, bridge_settings) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url))):
        fake.push_update(fake.text_update("/frobnicate now"))
        wait_for(lambda: _texts(fake), what="a reply to the unknown command")
        fake.push_update(fake.photo_update())

        texts = wait_for(lambda: len(_texts(fake)) == 2 and _texts(fake), what="a reply to the photo")
    assert texts == ["Unknown command /frobnicate. Try /start, /new, /status or /voice.", NON_TEXT]


def test_a_message_while_nova_is_down_shows_typing_then_says_so(telegram, bridge_settings) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url))):
        fake.push_update(fake.text_update("hello there"))

        assert wait_for(lambda: _texts(fake), what="a reply") == [UNREACHABLE]
    assert (111, "typing") in fake.chat_actions


def test_users_outside_the_allow_list_are_refused_politely(telegram, bridge_settings) -> None:
    fake, server = telegram
    settings = bridge_settings(**telegram_settings(server.url, telegram_allowed_user_ids=["42"]))
    with running_bridge(settings):
        fake.push_update(fake.text_update("hello", chat_id=111, user_id=111))
        fake.push_update(fake.text_update("/start", chat_id=42, user_id=42))

        wait_for(lambda: _texts(fake, 111) and _texts(fake, 42), what="both replies")
    assert _texts(fake, 111) == [refusal(111, 111)]
    assert _texts(fake, 42) == [HELP]


def test_webhook_mode_registers_the_endpoint_and_accepts_updates_with_the_secret(
    telegram, bridge_settings
) -> None:
    fake, server = telegram
    port = free_port()
    settings = bridge_settings(
        **telegram_settings(server.url, telegram_webhook_url=f"http://127.0.0.1:{port}")
    )
    with running_bridge(settings, port=port) as bridge:
        assert fake.webhook["url"] == f"{bridge.url}/webhook/telegram"
        assert fake.webhook["secret_token"]

        forged = fake.post_to_webhook(fake.text_update("/start"), secret="not-the-secret")
        missing = fake.post_to_webhook(fake.text_update("/start"), secret=None)
        delivered = fake.post_to_webhook(fake.text_update("/start"))

        assert wait_for(lambda: _texts(fake), what="a reply to the webhook update") == [HELP]
        status = httpx.get(f"{bridge.url}/api/status").json()
    assert (forged.status_code, missing.status_code, delivered.status_code) == (403, 403, 200)
    assert fake.get_updates_calls == 0
    assert status["adapters"][0] | {"started_at": None} == {
        "platform": "telegram",
        "configured": True,
        "state": "running",
        "mode": "webhook",
        "error": None,
        "started_at": None,
    }


def test_a_bad_token_is_reported_on_status_and_reload_needs_the_admin_secret(
    telegram, bridge_settings
) -> None:
    _, server = telegram
    settings = bridge_settings(**telegram_settings(server.url, telegram_bot_token="999:wrong-token"))
    with running_bridge(settings) as bridge:
        status = httpx.get(f"{bridge.url}/api/status").json()["adapters"]
        anonymous = httpx.post(f"{bridge.url}/reload")
        reloaded = httpx.post(f"{bridge.url}/reload", headers={"X-Admin-Secret": ADMIN_SECRET})

    telegram_status = next(a for a in status if a["platform"] == "telegram")
    assert telegram_status["state"] == "failed"
    assert telegram_status["error"].startswith("InvalidToken")
    assert "wrong-token" not in telegram_status["error"]
    assert anonymous.status_code == 401
    assert reloaded.status_code == 200
    assert next(a for a in reloaded.json()["adapters"] if a["platform"] == "telegram")["state"] == "failed"
