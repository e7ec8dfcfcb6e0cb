"""Voice messages in chats: the real voice-service process (its offline voice) hears Telegram voice notes and
Slack audio clips fetched through each platform's file API, and speaks replies back for chats that ask.

The orchestrator is absent, so every turn's reply is the bridge's "can't be reached" sentence: what is under
test is the way there and back (download, transcript shown, reply, voice note), not the answer itself.
"""

import io
import json
import os
from collections.abc import Iterator

import av
import httpx
import pytest
import redis
from tests.fakes import FakeOpenAI, Reply, serve_in_thread
from tests.fakes.slack_fake import FakeSlack
from tests.fakes.telegram_fake import FakeTelegram
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env, service_process

from chat_bridge.adapters.telegram import refusal
from chat_bridge.config import SAFE_BRIDGE_TOOLS
from chat_bridge.conversations import UNREACHABLE
from chat_bridge.voice_notes import NOTHING_HEARD, TRANSCRIPT_MARK, VOICE_DISABLED
from nova_common.embedded import EmbeddedRedis, free_port

from .conftest import SLACK_SIGNING_SECRET, running_bridge, slack_settings, telegram_settings, wait_for

QUESTION = "What is the weather like today?"


@pytest.fixture(scope="module")
def voice_service(
    embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """voice-service as its own process, with no provider key: the offline voice (eSpeak NG, PocketSphinx)."""
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    env = {
        "REDIS_URL": redis_url,
        "ORCHESTRATOR_URL": f"http://127.0.0.1:{free_port()}",
        "REQUIRE_AUTH": "true",
        "OPENAI_API_KEY": "",
        "DEEPGRAM_API_KEY": "",
        "ELEVENLABS_API_KEY": "",
        "VOICE_OPENAI_COMPATIBLE_URL": "",
    }
    service = ServiceProcess("voice_service", env, tmp_path_factory.mktemp("voice-service")).start()
    yield service
    service.stop()


def _speak(voice_url: str, text: str, fmt: str) -> bytes:
    # The female eSpeak variant, a little slow, is what PocketSphinx hears best.
    response = httpx.post(
        f"{voice_url}/api/v1/voice/synthesize",
        json={"text": text, "format": fmt, "voice": "en-us+f2", "speed": 0.9},
        headers={"X-Admin-Secret": STACK_ADMIN_SECRET},
        timeout=60,
    )
    response.raise_for_status()
    return response.content


@pytest.fixture(scope="module")
def spoken_question(voice_service: ServiceProcess) -> bytes:
    """The question as a Telegram voice note is encoded: Opus in an Ogg container."""
    return _speak(voice_service.url, QUESTION, "opus")


def _as_webm(ogg: bytes) -> bytes:
    """The same Opus packets in WebM, the container of an audio clip recorded in Slack's desktop app."""
    out = io.BytesIO()
    with av.open(io.BytesIO(ogg)) as source, av.open(out, "w", format="webm") as target:
        stream = target.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            target.mux(packet)
    return out.getvalue()


def _is_ogg_opus(data: bytes) -> bool:
    return data.startswith(b"OggS") and b"OpusHead" in data[:200]


def _texts(fake: FakeTelegram, chat_id: int = 111) -> list[str]:
    return [m.text for m in fake.messages_to(chat_id)]


def _voice_settings(voice_service: ServiceProcess) -> dict[str, str]:
    return {"voice_service_url": voice_service.url}


# Telegram.


def test_a_telegram_voice_message_is_fetched_transcribed_shown_back_and_answered_as_a_turn(
    telegram, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = telegram
    settings = bridge_settings(**telegram_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings):
        update = fake.push_update(fake.voice_update(spoken_question))

        texts = wait_for(
            lambda: len(_texts(fake)) >= 2 and _texts(fake), within=90, what="transcript and reply"
        )
    transcript, reply = texts
    print(f"heard {transcript!r} for {QUESTION!r}")
    assert transcript.startswith(f"{TRANSCRIPT_MARK} ")
    assert len(transcript) > len(TRANSCRIPT_MARK) + 3
    assert reply == UNREACHABLE
    assert fake.file_downloads == [f"voice/file_{update['message']['message_id']}.oga"]
    assert fake.voices == []  # nobody asked for voice replies


def test_an_audio_file_is_answered_like_a_voice_note(
    telegram, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = telegram
    settings = bridge_settings(**telegram_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings):
        fake.push_update(fake.voice_update(spoken_question, kind="audio"))

        texts = wait_for(
            lambda: len(_texts(fake)) >= 2 and _texts(fake), within=90, what="transcript and reply"
        )
    assert texts[0].startswith(f"{TRANSCRIPT_MARK} ")
    assert texts[1] == UNREACHABLE


def test_voice_on_adds_an_ogg_opus_voice_note_to_each_reply_until_voice_off(
    telegram, bridge_settings, voice_service
) -> None:
    fake, server = telegram
    settings = bridge_settings(**telegram_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings):
        fake.push_update(fake.text_update("/voice on"))
        wait_for(lambda: _texts(fake), what="the answer to /voice on")
        fake.push_update(fake.text_update("hello"))
        voices = wait_for(lambda: fake.voices_to(111), within=60, what="a voice note")
        fake.push_update(fake.text_update("/voice off"))
        wait_for(lambda: len(_texts(fake)) >= 3, what="the answer to /voice off")
        fake.push_update(fake.text_update("hello again"))
        texts = wait_for(lambda: len(_texts(fake)) >= 4 and _texts(fake), within=60, what="the last reply")

    assert texts[0].startswith("Voice replies are on")
    assert texts[1] == UNREACHABLE
    assert texts[2].startswith("Voice replies are off")
    assert texts[3] == UNREACHABLE
    assert len(voices) == 1 and len(fake.voices) == 1
    assert _is_ogg_opus(voices[0].data)
    assert voices[0].filename == "nova-reply.ogg"


def test_a_voice_message_over_the_cap_is_refused_before_any_download(
    telegram, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = telegram
    settings = bridge_settings(
        **telegram_settings(server.url), **_voice_settings(voice_service), voice_max_clip_bytes=2048
    )
    with running_bridge(settings):
        # One declares its size in the message; the other does not, and getFile tells it.
        fake.push_update(fake.voice_update(spoken_question))
        fake.push_update(fake.voice_update(spoken_question, declared_size=None))

        texts = wait_for(lambda: len(_texts(fake)) >= 2 and _texts(fake), within=60, what="two refusals")
    assert texts == ["That voice message is too large for me: I take clips up to 2 KB."] * 2
    assert fake.file_downloads == []


def test_silence_is_not_sent_to_nova(telegram, bridge_settings, voice_service) -> None:
    fake, server = telegram
    silence = _speak(voice_service.url, ".", "opus")  # eSpeak says nothing for a lone full stop
    settings = bridge_settings(**telegram_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings):
        fake.push_update(fake.voice_update(silence))

        assert wait_for(lambda: _texts(fake), within=60, what="a reply") == [NOTHING_HEARD]


def test_without_voice_service_a_voice_message_and_voice_on_are_answered_politely(
    telegram, bridge_settings, spoken_question
) -> None:
    fake, server = telegram
    settings = bridge_settings(
        **telegram_settings(server.url), voice_service_url=f"http://127.0.0.1:{free_port()}"
    )
    with running_bridge(settings):
        fake.push_update(fake.voice_update(spoken_question))
        wait_for(lambda: _texts(fake), within=30, what="a reply to the voice message")
        fake.push_update(fake.text_update("/voice on"))
        wait_for(lambda: len(_texts(fake)) >= 2, what="a reply to /voice on")
        fake.push_update(fake.text_update("/start"))

        texts = wait_for(lambda: len(_texts(fake)) >= 3 and _texts(fake), what="the bridge still answering")
    assert texts[0] == VOICE_DISABLED
    assert texts[1].startswith("Voice messages aren't enabled on this Nova")
    assert texts[2].startswith("Hi, I'm Nova.")
    assert fake.voices == []


def test_a_voice_message_from_a_stranger_is_refused_and_never_downloaded(
    telegram, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = telegram
    settings = bridge_settings(**telegram_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings):
        fake.push_update(fake.voice_update(spoken_question, chat_id=666, user_id=666))

        assert wait_for(lambda: _texts(fake, 666), what="the refusal") == [refusal(666, 666)]
    assert fake.file_downloads == []


# Slack.


def _deliver(fake: FakeSlack, bridge_url: str, body: dict) -> httpx.Response:
    return fake.deliver(f"{bridge_url}/slack/events", json.dumps(body).encode(), SLACK_SIGNING_SECRET)


def test_a_slack_audio_clip_is_fetched_with_files_info_and_the_bot_token_and_answered_in_thread(
    slack, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = slack
    clip = fake.add_file(_as_webm(spoken_question))
    settings = bridge_settings(**slack_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings) as bridge:
        body = fake.direct_message("", subtype="file_share", files=[fake.partial(clip)])
        _deliver(fake, bridge.url, body)

        replies = wait_for(
            lambda: len(fake.replies_in("D0ADA")) >= 2 and fake.replies_in("D0ADA"), within=90, what="replies"
        )
    assert replies[0].text.startswith(f"{TRANSCRIPT_MARK} ")
    assert len(replies[0].text) > len(TRANSCRIPT_MARK) + 3
    assert replies[1].text == UNREACHABLE
    assert {r.thread_ts for r in replies} == {body["event"]["ts"]}
    assert fake.files_info_calls == [clip["id"]]
    assert fake.file_downloads == [clip["id"]]


def test_voice_on_in_slack_uploads_each_spoken_reply_into_the_thread(
    slack, bridge_settings, voice_service
) -> None:
    fake, server = slack
    settings = bridge_settings(**slack_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings) as bridge:
        _deliver(fake, bridge.url, fake.direct_message("voice on"))
        wait_for(lambda: fake.replies_in("D0ADA"), what="the answer to voice on")
        body = fake.direct_message("hello")
        _deliver(fake, bridge.url, body)

        shared = wait_for(lambda: fake.shared_files, within=60, what="the spoken reply")
    assert fake.replies_in("D0ADA")[0].text.startswith("Voice replies are on")
    assert [(f.channel, f.thread_ts, f.filename) for f in shared] == [
        ("D0ADA", body["event"]["ts"], "nova-reply.mp3")
    ]
    with av.open(io.BytesIO(shared[0].data)) as decoded:
        assert decoded.format.name == "mp3"
        assert decoded.duration and decoded.duration > 0


def test_a_slack_audio_clip_over_the_cap_is_refused_before_download(
    slack, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = slack
    clip = fake.add_file(_as_webm(spoken_question))
    settings = bridge_settings(
        **slack_settings(server.url), **_voice_settings(voice_service), voice_max_clip_bytes=2048
    )
    with running_bridge(settings) as bridge:
        _deliver(fake, bridge.url, fake.direct_message("", subtype="file_share", files=[fake.partial(clip)]))

        replies = wait_for(lambda: fake.replies_in("D0ADA"), within=30, what="the refusal")
    assert [r.text for r in replies] == ["That voice message is too large for me: I take clips up to 2 KB."]
    assert fake.file_downloads == []


def test_a_mention_carrying_an_audio_clip_is_heard_and_answered_in_its_thread(
    slack, bridge_settings, voice_service, spoken_question
) -> None:
    fake, server = slack
    clip = fake.add_file(_as_webm(spoken_question))
    settings = bridge_settings(**slack_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings) as bridge:
        body = fake.mention("", channel="C0GENERAL", files=[clip])
        _deliver(fake, bridge.url, body)

        replies = wait_for(
            lambda: len(fake.replies_in("C0GENERAL")) >= 2 and fake.replies_in("C0GENERAL"),
            within=90,
            what="replies in the channel",
        )
    assert replies[0].text.startswith(f"{TRANSCRIPT_MARK} ")
    assert replies[1].text == UNREACHABLE
    assert {r.thread_ts for r in replies} == {body["event"]["ts"]}


def test_the_slash_command_turns_voice_replies_on_for_its_channel_privately(
    slack, bridge_settings, voice_service, redis_base_url
) -> None:
    fake, server = slack
    settings = bridge_settings(**slack_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings) as bridge:
        fake.deliver(
            f"{bridge.url}/slack/events", fake.slash_command("voice on"), SLACK_SIGNING_SECRET, form=True
        )

        responses = wait_for(lambda: fake.responses, what="a response_url post")
    db4 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/4")
    assert responses[0]["response_type"] == "ephemeral"
    assert responses[0]["text"].startswith("Voice replies are on")
    assert db4.exists("nova:bridge:voice:slack:T0NOVA:C0GENERAL")


def test_a_voice_question_reaches_the_model_as_the_users_words_and_its_answer_comes_back_spoken(
    telegram, bridge_settings, voice_service, spoken_question, database_url, redis_base_url, tmp_path
) -> None:
    """The whole way: voice note → voice-service → orchestrator → llm-gateway → model → text and voice note."""
    fake, server = telegram
    model = FakeOpenAI(models=["gpt-4o-mini"])
    model.script.default = Reply(content="It is **sunny** and warm today.")
    (tmp_path / "workspace").mkdir()
    with serve_in_thread(model.app) as upstream:
        gateway_env = {
            "REDIS_URL": redis_base_url,
            "OPENAI_API_KEY": "sk-fake",
            "OPENAI_BASE_URL": f"{upstream.url}/v1",
            "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
            "RESPONSE_CACHE_TTL": "0",
        }
        with service_process("llm_gateway", gateway_env, tmp_path) as gateway:
            env = orchestrator_env(
                database_url, redis_base_url, gateway_url=gateway.url, workspace=tmp_path / "workspace"
            )
            with service_process("orchestrator", env, tmp_path) as orchestrator:
                # The bridge's agent, made ahead with no memory recall (memory-service is not part of this).
                agent = httpx.post(
                    f"{orchestrator.url}/api/v1/agents",
                    json={"config": {"name": "Nova", "memory_tiers": [], "tools": SAFE_BRIDGE_TOOLS}},
                    headers={"X-Admin-Secret": STACK_ADMIN_SECRET},
                )
                agent.raise_for_status()
                db4 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/4")
                db4.set("nova:bridge:agent_id", agent.json()["id"])
                settings = bridge_settings(
                    **telegram_settings(server.url),
                    **_voice_settings(voice_service),
                    orchestrator_url=orchestrator.url,
                )
                with running_bridge(settings):
                    fake.push_update(fake.text_update("/voice on"))
                    wait_for(lambda: _texts(fake), what="the answer to /voice on")
                    fake.push_update(fake.voice_update(spoken_question))

                    voices = wait_for(lambda: fake.voices_to(111), within=120, what="the spoken answer")
    texts = _texts(fake)
    asked = model.script.last_request["messages"][-1]["content"]
    assert texts[1].startswith(f"{TRANSCRIPT_MARK} ")
    # The model was asked the transcript itself, as the user's words.
    assert texts[1].removeprefix(f"{TRANSCRIPT_MARK} ") in str(asked)
    assert texts[2] == "It is *sunny* and warm today."
    assert len(voices) == 1 and _is_ogg_opus(voices[0].data)


def test_a_bridge_with_the_wrong_service_token_is_refused_by_voice_service_and_says_so(
    telegram, bridge_settings, voice_service, spoken_question, monkeypatch
) -> None:
    fake, server = telegram
    monkeypatch.setenv("NOVA_SERVICE_TOKEN", "another-stacks-service-token-0123")
    settings = bridge_settings(**telegram_settings(server.url), **_voice_settings(voice_service))
    with running_bridge(settings):
        fake.push_update(fake.voice_update(spoken_question))

        texts = wait_for(lambda: _texts(fake), within=60, what="a reply")
    assert texts == [
        "This bridge is not allowed to use Nova's voice service; an admin needs to check NOVA_SERVICE_TOKEN."
    ]
