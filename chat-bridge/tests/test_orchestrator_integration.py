"""The bridge against the real orchestrator: its agent, the streamed turn, and allow-lists set in platform_config.

llm-gateway and memory-service are absent here, so the orchestrator ends each turn with its in-band error
naming the missing service; the bridge must pass that on as a sentence, in the right thread, never silence.
"""

import httpx
import redis
from tests.fakes.telegram_fake import FakeTelegram

from chat_bridge.adapters.telegram import refusal
from chat_bridge.config import SAFE_BRIDGE_TOOLS

from .conftest import ADMIN_SECRET, running_bridge, slack_settings, telegram_settings, wait_for

ADMIN = {"X-Admin-Secret": ADMIN_SECRET}


def _texts(fake: FakeTelegram, chat_id: int = 111) -> list[str]:
    return [m.text for m in fake.messages_to(chat_id)]


def test_a_telegram_message_runs_a_turn_on_the_orchestrator_under_the_bridge_agent(
    telegram, bridge_settings, orchestrator, redis_base_url
) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url), orchestrator_url=orchestrator.url)):
        fake.push_update(fake.text_update("hello Nova"))
        reply = wait_for(lambda: _texts(fake), within=60, what="the turn's reply")[0]

    db4 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/4", decode_responses=True)
    agent_id = db4.get("nova:bridge:agent_id")
    agent = httpx.get(f"{orchestrator.url}/api/v1/agents/{agent_id}", headers=ADMIN).json()
    assert reply.startswith("Sorry, I couldn't finish the answer:")
    assert "memory-service" in reply or "llm-gateway" in reply
    assert agent["config"]["name"] == "Nova"
    assert db4.exists("nova:bridge:telegram:111")
    assert 0 < db4.ttl("nova:bridge:telegram:111") <= 7 * 24 * 3600


def test_an_allow_list_set_in_platform_config_refuses_others(telegram, bridge_settings, orchestrator) -> None:
    fake, server = telegram
    patched = httpx.patch(
        f"{orchestrator.url}/api/v1/config/telegram.allowed_user_ids", json={"value": [42]}, headers=ADMIN
    )
    # The environment allows no chat; platform_config's list is the one in force.
    settings = bridge_settings(
        **telegram_settings(server.url, telegram_allowed_chat_ids=[]), orchestrator_url=orchestrator.url
    )
    with running_bridge(settings):
        fake.push_update(fake.text_update("/start", chat_id=111, user_id=111))
        fake.push_update(fake.text_update("/start", chat_id=42, user_id=42))
        wait_for(lambda: _texts(fake, 111) and _texts(fake, 42), what="both replies")

    assert patched.status_code == 200
    assert _texts(fake, 111) == [refusal(111, 111)]
    assert _texts(fake, 42)[0].startswith("Hi, I'm Nova.")


def test_a_bot_token_set_in_platform_config_is_picked_up_by_reload(
    telegram, slack, bridge_settings, orchestrator
) -> None:
    tg_fake, tg_server = telegram
    _, slack_server = slack
    settings = bridge_settings(
        **slack_settings(slack_server.url),
        telegram_api_url=f"{tg_server.url}/bot",
        telegram_allowed_chat_ids=["111"],
        orchestrator_url=orchestrator.url,
    )
    with running_bridge(settings) as bridge:
        before = httpx.get(f"{bridge.url}/api/status").json()["adapters"]
        httpx.patch(
            f"{orchestrator.url}/api/v1/config/telegram.bot_token",
            json={"value": tg_fake.token},
            headers=ADMIN,
        ).raise_for_status()
        after = httpx.post(f"{bridge.url}/reload", headers=ADMIN).json()["adapters"]
        tg_fake.push_update(tg_fake.text_update("/start"))
        wait_for(lambda: _texts(tg_fake), what="a reply from the reloaded bot")

    assert {a["platform"]: a["state"] for a in before} == {"telegram": "disabled", "slack": "running"}
    assert {a["platform"]: a["state"] for a in after} == {"telegram": "running", "slack": "running"}


def test_a_slack_mention_runs_a_turn_and_the_answer_lands_in_its_thread(
    slack, bridge_settings, orchestrator
) -> None:
    fake, server = slack
    with running_bridge(
        bridge_settings(**slack_settings(server.url), orchestrator_url=orchestrator.url)
    ) as bridge:
        body = fake.mention("what can you do?", channel="C0TEAM")
        fake.deliver(
            f"{bridge.url}/slack/events",
            __import__("json").dumps(body).encode(),
            "test-signing-secret-0123456789",
        )
        replies = wait_for(lambda: fake.replies_in("C0TEAM"), within=60, what="the turn's reply")

    assert replies[0].thread_ts == body["event"]["ts"]
    assert replies[0].text.startswith("Sorry, I couldn't finish the answer:")


def _bridge_agent(orchestrator_url: str, redis_base_url: str) -> dict:
    db4 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/4", decode_responses=True)
    agent_id = db4.get("nova:bridge:agent_id")
    assert agent_id, "the bridge made no agent"
    agent: dict = httpx.get(f"{orchestrator_url}/api/v1/agents/{agent_id}", headers=ADMIN).json()
    return agent


def test_the_bridge_agent_has_no_shell_git_or_file_tools(
    telegram, bridge_settings, orchestrator, redis_base_url
) -> None:
    fake, server = telegram
    with running_bridge(bridge_settings(**telegram_settings(server.url), orchestrator_url=orchestrator.url)):
        fake.push_update(fake.text_update("hello Nova"))
        wait_for(lambda: _texts(fake), within=60, what="the turn's reply")

    assert sorted(_bridge_agent(orchestrator.url, redis_base_url)["config"]["tools"]) == sorted(
        SAFE_BRIDGE_TOOLS
    )


def test_an_agent_stored_with_every_tool_is_limited_before_it_answers(
    telegram, bridge_settings, orchestrator, redis_base_url
) -> None:
    fake, server = telegram
    # What a bridge made before the limit: an admin-owned agent whose empty list means every tool.
    created = httpx.post(
        f"{orchestrator.url}/api/v1/agents", json={"config": {"name": "Nova", "tools": []}}, headers=ADMIN
    )
    created.raise_for_status()
    db4 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/4", decode_responses=True)
    db4.set("nova:bridge:agent_id", created.json()["id"])
    with running_bridge(bridge_settings(**telegram_settings(server.url), orchestrator_url=orchestrator.url)):
        fake.push_update(fake.text_update("hello Nova"))
        wait_for(lambda: _texts(fake), within=60, what="the turn's reply")

    agent = _bridge_agent(orchestrator.url, redis_base_url)
    assert agent["id"] == created.json()["id"]
    assert sorted(agent["config"]["tools"]) == sorted(SAFE_BRIDGE_TOOLS)


def test_the_admin_grants_the_bridge_agent_more_tools_with_a_setting(
    telegram, bridge_settings, orchestrator, redis_base_url
) -> None:
    fake, server = telegram
    settings = bridge_settings(
        **telegram_settings(server.url),
        orchestrator_url=orchestrator.url,
        bridge_agent_tools=["search_memory", "read_file"],
    )
    with running_bridge(settings):
        fake.push_update(fake.text_update("hello Nova"))
        wait_for(lambda: _texts(fake), within=60, what="the turn's reply")

    assert sorted(_bridge_agent(orchestrator.url, redis_base_url)["config"]["tools"]) == [
        "read_file",
        "search_memory",
    ]
