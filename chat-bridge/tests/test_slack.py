"""The Slack adapter through the real slack-bolt and slack_sdk, against the fake Slack on loopback."""

import json

import httpx
from tests.fakes.slack_fake import FakeSlack

from chat_bridge.adapters.base import NON_TEXT
from chat_bridge.adapters.slack import HELP, refusal
from chat_bridge.conversations import UNREACHABLE

from .conftest import SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, running_bridge, slack_settings, wait_for


def _deliver(
    fake: FakeSlack, bridge_url: str, body: dict, secret: str = SLACK_SIGNING_SECRET
) -> httpx.Response:
    return fake.deliver(f"{bridge_url}/slack/events", json.dumps(body).encode(), secret)


def test_a_mention_is_answered_in_its_thread(slack, bridge_settings) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        body = fake.mention("help", channel="C0GENERAL")
        response = _deliver(fake, bridge.url, body)

        replies = wait_for(lambda: fake.replies_in("C0GENERAL"), what="a reply in the channel")
    assert response.status_code == 200
    assert [(r.text, r.thread_ts) for r in replies] == [(HELP, body["event"]["ts"])]


def test_a_direct_message_while_nova_is_down_gets_a_clear_answer_in_thread(slack, bridge_settings) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        body = fake.direct_message("what's the weather?")
        _deliver(fake, bridge.url, body)

        replies = wait_for(lambda: fake.replies_in("D0ADA"), what="a reply to the DM")
    assert [(r.text, r.thread_ts) for r in replies] == [(UNREACHABLE, body["event"]["ts"])]


def test_a_direct_message_with_only_a_file_is_told_text_is_needed(slack, bridge_settings) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        _deliver(fake, bridge.url, fake.direct_message("", subtype="file_share", files=[{"id": "F1"}]))

        replies = wait_for(lambda: fake.replies_in("D0ADA"), what="a reply to the file")
    assert [r.text for r in replies] == [NON_TEXT]


def test_the_slash_command_answers_through_the_response_url(slack, bridge_settings) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        ack = fake.deliver(
            f"{bridge.url}/slack/events", fake.slash_command("status"), SLACK_SIGNING_SECRET, form=True
        )

        responses = wait_for(lambda: fake.responses, what="a response_url post")
    assert ack.status_code == 200
    assert responses[0]["response_type"] == "ephemeral"
    assert responses[0]["text"].startswith("Nova can't be reached right now.")


def test_new_resets_the_conversation_of_the_slash_command(slack, bridge_settings) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        fake.deliver(f"{bridge.url}/slack/events", fake.slash_command("new"), SLACK_SIGNING_SECRET, form=True)

        responses = wait_for(lambda: fake.responses, what="a response_url post")
    assert responses[0]["text"] == "This is already a fresh conversation."


def test_a_request_with_a_bad_signature_is_rejected(slack, bridge_settings) -> None:
    fake, server = slack
    with running_bridge(bridge_settings(**slack_settings(server.url))) as bridge:
        forged = _deliver(fake, bridge.url, fake.mention("help"), secret="someone-elses-secret")
        unsigned = httpx.post(f"{bridge.url}/slack/events", json=fake.mention("help"))

    assert (forged.status_code, unsigned.status_code) == (401, 401)
    assert fake.posted == []


def test_channels_outside_the_allow_list_are_refused_politely(slack, bridge_settings) -> None:
    fake, server = slack
    settings = bridge_settings(**slack_settings(server.url, slack_allowed_channel_ids=["C0ALLOWED"]))
    with running_bridge(settings) as bridge:
        _deliver(fake, bridge.url, fake.mention("help", channel="C0OTHER"))
        _deliver(fake, bridge.url, fake.mention("help", channel="C0ALLOWED"))

        wait_for(lambda: fake.replies_in("C0OTHER") and fake.replies_in("C0ALLOWED"), what="both replies")
    assert [r.text for r in fake.replies_in("C0OTHER")] == [refusal("T0NOVA", "C0OTHER")]
    assert [r.text for r in fake.replies_in("C0ALLOWED")] == [HELP]


def test_socket_mode_receives_a_mention_acknowledges_it_and_replies(slack, bridge_settings) -> None:
    fake, server = slack
    settings = bridge_settings(**slack_settings(server.url, slack_app_token=SLACK_APP_TOKEN))
    with running_bridge(settings) as bridge:
        wait_for(lambda: fake._sockets, what="the Socket Mode connection")
        body = fake.mention("help")
        envelope_id = fake.push_socket_event(body)

        replies = wait_for(lambda: fake.replies_in("C0GENERAL"), what="a reply over the Web API")
        status = httpx.get(f"{bridge.url}/api/status").json()["adapters"]
    assert [(r.text, r.thread_ts) for r in replies] == [(HELP, body["event"]["ts"])]
    assert {"envelope_id": envelope_id} in [{"envelope_id": a.get("envelope_id")} for a in fake.socket_acks]
    assert next(a for a in status if a["platform"] == "slack")["mode"] == "socket"


def test_a_failing_adapter_does_not_stop_the_other(slack, telegram, bridge_settings) -> None:
    slack_fake, slack_server = slack
    _, telegram_server = telegram
    settings = bridge_settings(
        **slack_settings(slack_server.url),
        telegram_bot_token="999:wrong-token",
        telegram_api_url=f"{telegram_server.url}/bot",
    )
    with running_bridge(settings) as bridge:
        states = {a["platform"]: a["state"] for a in httpx.get(f"{bridge.url}/api/status").json()["adapters"]}
        _deliver(slack_fake, bridge.url, slack_fake.mention("help"))

        wait_for(lambda: slack_fake.replies_in("C0GENERAL"), what="the Slack reply")
    assert states == {"telegram": "failed", "slack": "running"}
