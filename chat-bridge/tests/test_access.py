"""Who the bridge serves, through the real python-telegram-bot and slack-bolt against the loopback fakes:
with no allow-list nobody (each chat is told once how its owner allows it, and nothing reaches Nova), and
webhook deliveries are authenticated before their body is parsed.

The orchestrator here is unreachable: a message that reached it would be answered with `UNREACHABLE`.
"""

import json
import socket

import httpx
from tests.fakes.slack_fake import FakeSlack, sign
from tests.fakes.telegram_fake import FakeTelegram

from chat_bridge.adapters import slack as slack_adapter
from chat_bridge.adapters import telegram as telegram_adapter
from chat_bridge.conversations import UNREACHABLE
from nova_common.embedded import free_port

from .conftest import SLACK_SIGNING_SECRET, running_bridge, slack_settings, telegram_settings, wait_for

NO_ALLOW_LIST = {"telegram_allowed_chat_ids": [], "telegram_allowed_user_ids": []}


def _texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in fake.messages_to(chat_id)]


def test_with_no_allow_list_a_telegram_chat_gets_one_reply_saying_how_to_allow_it_and_nova_gets_nothing(
    telegram, bridge_settings
) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url, **NO_ALLOW_LIST))):
        fake.push_update(fake.text_update("hello", chat_id=777, user_id=555, chat_type="group"))
        fake.push_update(fake.text_update("/start", chat_id=777, user_id=555, chat_type="group"))
        fake.push_update(fake.text_update("are you there?", chat_id=777, user_id=556, chat_type="group"))
        wait_for(lambda: _texts(fake, 777), what="the refusal")
        wait_for(lambda: fake.unconfirmed() == 0, what="the bot to take every update")
    # Leaving the block stopped the bot, which finishes the updates it had taken.

    replies = _texts(fake, 777)
    assert len(replies) == 1, replies
    # Whichever of the two members' messages was handled first is the one answered.
    assert replies[0] in (telegram_adapter.refusal(777, 555), telegram_adapter.refusal(777, 556))
    assert "777" in replies[0] and "telegram.allowed_chat_ids" in replies[0]
    assert "TELEGRAM_ALLOWED_CHAT_IDS" in replies[0]
    assert UNREACHABLE not in replies
    assert (777, "typing") not in fake.chat_actions


def test_with_an_allow_list_only_listed_telegram_chats_are_served(telegram, bridge_settings) -> None:
    fake, server = telegram
    settings = bridge_settings(**telegram_settings(server.url, telegram_allowed_chat_ids=["111"]))
    with running_bridge(settings):
        fake.push_update(fake.text_update("hello", chat_id=111, user_id=111))
        fake.push_update(fake.text_update("hello", chat_id=222, user_id=222))
        wait_for(lambda: _texts(fake, 111) and _texts(fake, 222), what="both replies")

    assert _texts(fake, 111) == [UNREACHABLE]
    assert _texts(fake, 222) == [telegram_adapter.refusal(222, 222)]


def _deliver(fake: FakeSlack, bridge_url: str, body: dict) -> httpx.Response:
    return fake.deliver(f"{bridge_url}/slack/events", json.dumps(body).encode(), SLACK_SIGNING_SECRET)


def test_with_no_allow_list_a_slack_channel_gets_one_reply_saying_how_to_allow_it_and_nova_gets_nothing(
    slack, bridge_settings
) -> None:
    fake, server = slack
    no_allow_list = {"slack_allowed_team_ids": [], "slack_allowed_channel_ids": []}
    with running_bridge(bridge_settings(**slack_settings(server.url, **no_allow_list))) as bridge:
        _deliver(fake, bridge.url, fake.mention("what's up?", channel="C0STRANGE"))
        first = wait_for(lambda: fake.replies_in("C0STRANGE"), what="the refusal")
        _deliver(fake, bridge.url, fake.mention("hello?", channel="C0STRANGE"))
        _deliver(fake, bridge.url, fake.direct_message("hi there"))
        dm = wait_for(lambda: fake.replies_in("D0ADA"), what="the refusal in the DM")
        command = fake.deliver(
            f"{bridge.url}/slack/events",
            fake.slash_command("hi", channel="C0STRANGE"),
            SLACK_SIGNING_SECRET,
            form=True,
        )
        ephemeral = wait_for(lambda: fake.responses, what="the slash command's answer")

    assert [r.text for r in first] == [slack_adapter.refusal("T0NOVA", "C0STRANGE")]
    assert "C0STRANGE" in first[0].text and "SLACK_ALLOWED_CHANNEL_IDS" in first[0].text
    assert [r.text for r in fake.replies_in("C0STRANGE")] == [first[0].text]
    assert [r.text for r in dm] == [slack_adapter.refusal("T0NOVA", "D0ADA")]
    assert command.status_code == 200
    assert ephemeral[0]["response_type"] == "ephemeral"
    assert ephemeral[0]["text"] == slack_adapter.refusal("T0NOVA", "C0STRANGE")
    assert all(UNREACHABLE not in m.text for m in fake.posted)


def test_a_forged_telegram_delivery_is_refused_before_its_body_is_parsed(telegram, bridge_settings) -> None:
    fake, server = telegram
    port = free_port()
    settings = bridge_settings(
        **telegram_settings(server.url, telegram_webhook_url=f"http://127.0.0.1:{port}")
    )
    with running_bridge(settings, port=port) as bridge:
        url = f"{bridge.url}/webhook/telegram"
        garbage = b'{"update_id": 1, "message": '
        forged = httpx.post(url, content=garbage, headers={telegram_adapter.SECRET_HEADER: "forged"})
        secret = {telegram_adapter.SECRET_HEADER: fake.webhook["secret_token"]}
        not_json = httpx.post(url, content=garbage, headers=secret)
        not_an_update = httpx.post(url, json={"message": {"text": "no update_id"}}, headers=secret)
        a_list = httpx.post(url, json=[1, 2], headers=secret)

    assert forged.status_code == 403
    assert (not_json.status_code, not_an_update.status_code, a_list.status_code) == (400, 400, 400)
    assert "Telegram update" in not_an_update.json()["detail"]


def test_an_unsigned_or_stale_slack_request_is_refused_before_its_body_is_parsed(
    slack, bridge_settings
) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        url = f"{bridge.url}/slack/events"
        garbage = b'{"type": "event_callback", "event": '
        json_type = {"Content-Type": "application/json"}
        unsigned = httpx.post(url, content=garbage, headers=json_type)
        stale = httpx.post(
            url, content=garbage, headers={**json_type, **sign(SLACK_SIGNING_SECRET, garbage, 1)}
        )
        forged = httpx.post(url, content=garbage, headers={**json_type, **sign("not-the-secret", garbage)})
        bad_time = httpx.post(
            url,
            content=garbage,
            headers={**json_type, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=x"},
        )
        signed_garbage = httpx.post(
            url, content=garbage, headers={**json_type, **sign(SLACK_SIGNING_SECRET, garbage)}
        )
        huge_time = httpx.post(
            url,
            content=garbage,
            headers={**json_type, "X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=x"},
        )

    assert [r.status_code for r in (unsigned, stale, forged, bad_time, huge_time)] == [401] * 5
    assert signed_garbage.status_code == 400
    assert "X-Slack-Signature" in unsigned.json()["detail"]
    assert fake.posted == []


def test_a_webhook_body_over_the_cap_is_refused_with_413_before_it_is_sent(telegram, bridge_settings) -> None:
    _, server = telegram
    port = free_port()
    settings = bridge_settings(
        **telegram_settings(server.url, telegram_webhook_url=f"http://127.0.0.1:{port}")
    )
    with running_bridge(settings, port=port):
        # Only the headers go out: a server that waited for the 2 GB it was promised would never answer.
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                f"POST /webhook/telegram HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 2147483648\r\n\r\n".encode()
            )
            status_line = sock.makefile("rb").readline()

    assert status_line.split()[1] == b"413", status_line
