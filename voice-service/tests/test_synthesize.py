"""POST /api/v1/voice/synthesize, GET /voices and /providers: the offline voice for real, providers via fakes."""

import io
import re
import wave

import av
import httpx
import pytest

from .conftest import ADMIN, DEEPGRAM_KEY, ELEVENLABS_KEY, OPENAI_KEY, transcribe

SENTENCE = "The weather is nice today and I would like a cup of coffee."


def synthesize(url: str, headers: dict[str, str] | None = None, **body: object) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/voice/synthesize", json=body, headers=ADMIN if headers is None else headers, timeout=60
    )


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference length."""
    ref = re.findall(r"[a-z']+", reference.lower())
    hyp = re.findall(r"[a-z']+", hypothesis.lower())
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, heard in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != heard))
    return row[len(hyp)] / len(ref)


def test_offline_voice_speaks_a_sentence_as_a_valid_wav_of_plausible_length(voice_server):
    with voice_server() as live:
        response = synthesize(live.url, text=SENTENCE, format="wav")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["x-voice-provider"] == "offline"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        seconds = audio.getnframes() / audio.getframerate()
    # Twelve words at eSpeak's 175 words per minute: about four seconds.
    assert 2.0 < seconds < 8.0


def test_offline_voice_speaks_faster_when_asked(voice_server):
    with voice_server() as live:
        normal = synthesize(live.url, text=SENTENCE, format="wav")
        fast = synthesize(live.url, text=SENTENCE, format="wav", speed=2.0)

    assert len(fast.content) < 0.7 * len(normal.content)


@pytest.mark.parametrize(
    ("fmt", "container", "media_type"), [("mp3", "mp3", "audio/mpeg"), ("opus", "ogg", "audio/ogg")]
)
def test_offline_voice_streams_encoded_audio_that_decodes(voice_server, fmt, container, media_type):
    with voice_server() as live:
        response = synthesize(live.url, text=SENTENCE, format=fmt)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    with av.open(io.BytesIO(response.content)) as decoded:
        assert decoded.format.name == container
        samples = sum(frame.samples for frame in decoded.decode(audio=0))
        rate = decoded.streams.audio[0].rate
    assert 2.0 < samples / rate < 8.0


def test_offline_round_trip_is_recognised_with_a_reported_word_error_rate(voice_server):
    with voice_server() as live:
        # The female variant at 0.9 is what PocketSphinx hears best (about 0.4-0.5 over a few sentences).
        spoken = synthesize(live.url, text=SENTENCE, voice="en-us+f2", format="wav", speed=0.9)
        heard = transcribe(live.url, spoken.content)

    assert heard.status_code == 200, heard.text
    body = heard.json()
    assert body["provider"] == "offline"
    wer = word_error_rate(SENTENCE, body["text"])
    print(f"offline round trip: {body['text']!r}, word error rate {wer:.2f}")
    # PocketSphinx on eSpeak's robotic voice is rough; what must hold is that real words come back.
    assert wer < 0.8


def test_openai_speech_is_streamed_through_with_model_voice_format_and_speed(voice_server, openai_fake):
    fake, base_url = openai_fake
    with voice_server(openai_api_key=OPENAI_KEY, voice_openai_base_url=base_url) as live:
        response = synthesize(live.url, text="Hello there.", voice="nova", format="opus", speed=1.25)

    assert response.status_code == 200, response.text
    assert response.headers["x-voice-provider"] == "openai"
    assert response.content.startswith(b"OggS")
    sent = fake.requests[-1]["json"]
    assert sent == {
        "model": "tts-1",
        "voice": "nova",
        "input": "Hello there.",
        "response_format": "opus",
        "speed": 1.25,
    }


def test_configured_voice_and_speed_apply_when_the_request_names_none(
    voice_server, openai_fake, set_platform_config
):
    fake, base_url = openai_fake
    set_platform_config("voice.tts_voice", "shimmer")
    set_platform_config("voice.tts_speed", 0.8)
    with voice_server(openai_api_key=OPENAI_KEY, voice_openai_base_url=base_url) as live:
        response = synthesize(live.url, text="Hi.")

    assert response.status_code == 200, response.text
    assert fake.requests[-1]["json"]["voice"] == "shimmer"
    assert fake.requests[-1]["json"]["speed"] == 0.8


def test_deepgram_aura_speaks_with_the_voice_as_model(voice_server, deepgram_fake, set_platform_config):
    fake, base_url = deepgram_fake
    set_platform_config("voice.tts_provider", "deepgram")
    with voice_server(deepgram_api_key=DEEPGRAM_KEY, voice_deepgram_base_url=base_url) as live:
        response = synthesize(live.url, text="Hello there.", format="mp3")

    assert response.status_code == 200, response.text
    assert response.content.startswith(b"ID3")
    assert fake.requests[-1]["params"] == {"model": "aura-2-thalia-en", "encoding": "mp3"}
    assert fake.requests[-1]["json"] == {"text": "Hello there."}


def test_elevenlabs_wav_is_its_pcm_wrapped_in_a_wav_header(voice_server, elevenlabs_fake):
    fake, base_url = elevenlabs_fake
    with voice_server(
        elevenlabs_api_key=ELEVENLABS_KEY, voice_elevenlabs_base_url=base_url, voice_tts_provider="elevenlabs"
    ) as live:
        response = synthesize(live.url, text="Hello there, how are you?", format="wav", speed=2.0)

    assert response.status_code == 200, response.text
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getframerate() == 22_050
        assert audio.getnframes() > 0
    sent = fake.requests[-1]
    assert sent["params"] == {"output_format": "pcm_22050"}
    assert sent["json"]["voice_settings"] == {"speed": 1.2}  # ElevenLabs' ceiling


def test_a_refused_provider_key_is_a_503_naming_the_provider_before_any_audio(voice_server, openai_fake):
    _, base_url = openai_fake
    with voice_server(openai_api_key="sk-wrong", voice_openai_base_url=base_url) as live:
        response = synthesize(live.url, text="Hello.")

    assert response.status_code == 503
    assert "openai refused the configured API key" in response.json()["detail"]


def test_an_unknown_elevenlabs_voice_is_a_400_with_its_reason(voice_server, elevenlabs_fake):
    _, base_url = elevenlabs_fake
    with voice_server(elevenlabs_api_key=ELEVENLABS_KEY, voice_elevenlabs_base_url=base_url) as live:
        response = synthesize(live.url, text="Hello.", voice="nobody", provider="elevenlabs")

    assert response.status_code == 400
    assert "was not found" in response.json()["detail"]


def test_text_longer_than_4096_characters_is_a_422(voice_server):
    with voice_server() as live:
        response = synthesize(live.url, text="a" * 4097)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "text"]


def test_synthesis_past_the_per_caller_limit_is_a_429_with_retry_after(voice_server):
    # Anonymous (REQUIRE_AUTH=false from loopback) is limited like a key; the admin is not.
    with voice_server(require_auth=False, voice_tts_requests_per_minute=2) as live:
        answers = [synthesize(live.url, headers={}, text="Hi.", format="wav").status_code for _ in range(3)]
        limited = synthesize(live.url, headers={}, text="Hi.", format="wav")
        admin = synthesize(live.url, text="Hi.", format="wav")

    assert answers == [200, 200, 429]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert admin.status_code == 200


def test_voices_lists_the_offline_voices_and_a_named_providers_voices(voice_server, elevenlabs_fake):
    _, base_url = elevenlabs_fake
    with voice_server(elevenlabs_api_key=ELEVENLABS_KEY, voice_elevenlabs_base_url=base_url) as live:
        offline = httpx.get(f"{live.url}/api/v1/voice/voices?provider=offline", headers=ADMIN)
        eleven = httpx.get(f"{live.url}/api/v1/voice/voices?provider=elevenlabs", headers=ADMIN)

    assert offline.status_code == 200
    assert offline.json()["provider"] == "offline"
    assert "en-us" in {v["id"] for v in offline.json()["voices"]}
    assert eleven.json()["voices"][0] == {"id": "JBFqnCBsd6RMkjVDRZzb", "name": "George", "language": "en"}


def test_openai_compatible_server_voices_come_from_its_own_list(voice_server):
    from fakes.openai_audio_fake import FakeOpenAIAudio
    from fakes.server import serve_in_thread

    kokoro = FakeOpenAIAudio(kokoro_voices=["af_bella", "am_adam"])
    with (
        serve_in_thread(kokoro.app) as server,
        voice_server(voice_openai_compatible_url=f"{server.url}/v1") as live,
    ):
        voices = httpx.get(f"{live.url}/api/v1/voice/voices", headers=ADMIN)
        spoken = synthesize(live.url, text="Hi.", voice="af_bella", format="mp3")

    assert voices.json()["provider"] == "openai_compatible"
    assert [v["id"] for v in voices.json()["voices"]] == ["af_bella", "am_adam"]
    assert spoken.status_code == 200
    assert kokoro.requests[-1]["authorization"] == "Bearer not-needed"


def test_providers_report_says_what_is_usable_and_why_not(voice_server):
    with voice_server(deepgram_api_key=DEEPGRAM_KEY) as live:
        response = httpx.get(f"{live.url}/api/v1/voice/providers", headers=ADMIN)

    assert response.status_code == 200
    body = response.json()
    by_name = {p["provider"]: p for p in body["providers"]}
    assert by_name["deepgram"]["usable"] is True
    assert by_name["offline"]["usable"] is True
    assert by_name["openai"]["usable"] is False
    assert "OPENAI_API_KEY" in by_name["openai"]["reason"]
    # `auto` takes the first usable provider in its order: Deepgram before the offline voice.
    assert body["stt_provider"] == "deepgram"
    assert body["tts_provider"] == "deepgram"


def test_an_explicitly_chosen_provider_without_its_key_is_a_503_saying_what_to_set(voice_server):
    with voice_server(voice_tts_provider="elevenlabs") as live:
        response = synthesize(live.url, text="Hello.")

    assert response.status_code == 503
    assert "voice.elevenlabs_api_key" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/voice/transcribe"),
        ("POST", "/api/v1/voice/synthesize"),
        ("GET", "/api/v1/voice/voices"),
        ("GET", "/api/v1/voice/providers"),
    ],
)
def test_every_voice_route_refuses_a_caller_without_credentials(voice_server, method, path):
    with voice_server() as live:
        missing = httpx.request(method, f"{live.url}{path}", json={"text": "hi"})
        wrong = httpx.request(
            method, f"{live.url}{path}", headers={"X-Admin-Secret": "wrong-secret-0123456789"}
        )
        bad_key = httpx.request(
            method, f"{live.url}{path}", headers={"Authorization": "Bearer not-a-nova-key"}
        )

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert bad_key.status_code == 401


def test_health_routes_answer_without_credentials(voice_server):
    with voice_server() as live:
        live_probe = httpx.get(f"{live.url}/health/live")
        ready = httpx.get(f"{live.url}/health/ready")

    assert live_probe.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_an_unknown_offline_voice_is_a_400_and_a_voice_with_a_slash_a_422(voice_server):
    with voice_server() as live:
        unknown = synthesize(live.url, text="Hi.", voice="no-such-voice")
        traversal = synthesize(live.url, text="Hi.", voice="../../v1/user")

    assert unknown.status_code == 400
    assert "unknown offline voice" in unknown.json()["detail"]
    assert traversal.status_code == 422
