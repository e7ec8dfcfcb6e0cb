"""POST /api/v1/voice/transcribe: providers driven through their real clients, limits, silence, bad uploads."""

import socket
import time

import httpx

from .conftest import (
    ADMIN,
    ADMIN_SECRET,
    DEEPGRAM_KEY,
    ELEVENLABS_KEY,
    OPENAI_KEY,
    silence_wav,
    tone_wav,
    transcribe,
)


def test_openai_transcription_returns_whisper_text_language_and_confidence(voice_server, openai_fake):
    fake, base_url = openai_fake
    audio = tone_wav(1.5)
    with voice_server(openai_api_key=OPENAI_KEY, voice_openai_base_url=base_url) as live:
        response = transcribe(live.url, audio, language="en", prompt="Nova")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "hello from the fake transcriber"
    assert body["provider"] == "openai"
    assert body["language"] == "en"
    assert body["duration_ms"] == 1500
    assert 0.8 < body["confidence"] <= 1.0
    sent = fake.requests[-1]
    assert sent["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent["audio"] == audio
    assert sent["fields"]["model"] == "whisper-1"
    assert sent["fields"]["language"] == "en"
    assert sent["fields"]["prompt"] == "Nova"


def test_sealed_openai_key_set_in_platform_config_is_used_without_restart(
    voice_server, openai_fake, set_platform_config
):
    fake, base_url = openai_fake
    with voice_server(voice_openai_base_url=base_url, voice_stt_provider="openai") as live:
        before = transcribe(live.url, tone_wav(1.0))
        set_platform_config("llm.api_key.openai", OPENAI_KEY, secret=True)
        after = transcribe(live.url, tone_wav(1.0))

    assert before.status_code == 503
    assert "llm.api_key.openai" in before.json()["detail"]
    assert after.status_code == 200, after.text
    assert fake.requests[-1]["authorization"] == f"Bearer {OPENAI_KEY}"


def test_deepgram_listen_receives_the_raw_audio_with_token_auth(
    voice_server, deepgram_fake, set_platform_config
):
    fake, base_url = deepgram_fake
    set_platform_config("voice.stt_provider", "deepgram")
    set_platform_config("voice.deepgram_api_key", DEEPGRAM_KEY, secret=True)
    audio = tone_wav(1.0)
    with voice_server(voice_deepgram_base_url=base_url) as live:
        response = transcribe(live.url, audio)

    assert response.status_code == 200, response.text
    assert response.json()["text"] == "hello from the fake deepgram"
    assert response.json()["provider"] == "deepgram"
    assert response.json()["language"] == "en"
    assert response.json()["confidence"] == 0.97
    sent = fake.requests[-1]
    assert sent["audio"] == audio
    assert sent["content_type"] == "audio/wav"
    assert sent["params"]["model"] == "nova-3"
    assert sent["params"]["detect_language"] == "true"


def test_elevenlabs_scribe_receives_the_upload_as_multipart_with_its_key(
    voice_server, elevenlabs_fake, set_platform_config
):
    fake, base_url = elevenlabs_fake
    set_platform_config("voice.stt_provider", "elevenlabs")
    audio = tone_wav(1.0)
    with voice_server(elevenlabs_api_key=ELEVENLABS_KEY, voice_elevenlabs_base_url=base_url) as live:
        response = transcribe(live.url, audio, language="en")

    assert response.status_code == 200, response.text
    assert response.json()["text"] == "hello from the fake scribe"
    assert response.json()["provider"] == "elevenlabs"
    assert fake.requests[-1]["audio"] == audio
    assert fake.requests[-1]["fields"] == {"model_id": "scribe_v1", "language_code": "en"}


def test_silence_returns_empty_text_and_never_reaches_the_provider(voice_server, openai_fake):
    fake, base_url = openai_fake
    with voice_server(openai_api_key=OPENAI_KEY, voice_openai_base_url=base_url) as live:
        response = transcribe(live.url, silence_wav(3.0))

    assert response.status_code == 200, response.text
    assert response.json()["text"] == ""
    assert response.json()["duration_ms"] == 3000
    assert fake.requests == []


def test_a_clip_too_short_to_hold_speech_returns_empty_text(voice_server, openai_fake):
    fake, base_url = openai_fake
    with voice_server(openai_api_key=OPENAI_KEY, voice_openai_base_url=base_url) as live:
        response = transcribe(live.url, tone_wav(0.1))

    assert response.status_code == 200, response.text
    assert response.json()["text"] == ""
    assert fake.requests == []


def test_declared_oversized_upload_is_refused_with_413_before_any_body_is_sent(voice_server):
    with voice_server(voice_max_upload_bytes=1024 * 1024) as live:
        port = int(live.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                (
                    "POST /api/v1/voice/transcribe HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\n"
                    f"X-Admin-Secret: {ADMIN_SECRET}\r\n"
                    "Content-Type: multipart/form-data; boundary=xyz\r\n"
                    f"Content-Length: {2 * 1024**3}\r\n\r\n"
                ).encode()
            )
            # Not a byte of the 2 GB follows: the answer must come from the headers alone.
            answer = b""
            while chunk := sock.recv(65536):  # the server closes after answering
                answer += chunk

    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"payload_too_large" in answer


def test_chunked_upload_past_the_limit_is_cut_off_with_413_while_streaming(voice_server):
    limit = 1024 * 1024
    planned = 200 * 1024 * 1024
    with voice_server(voice_max_upload_bytes=limit) as live:
        port = int(live.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                (
                    "POST /api/v1/voice/transcribe HTTP/1.1\r\n"
                    f"Host: 127.0.0.1:{port}\r\n"
                    f"X-Admin-Secret: {ADMIN_SECRET}\r\n"
                    "Content-Type: multipart/form-data; boundary=xyz\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )
            preamble = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            sock.sendall(f"{len(preamble):x}\r\n".encode() + preamble + b"\r\n")
            sent, chunk = 0, b"\0" * 65536
            sock.settimeout(0.05)
            answer = b""
            while sent < planned:
                try:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent += len(chunk)
                    answer += sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if answer:
                    break
            sock.settimeout(10)
            deadline = time.monotonic() + 10
            while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
                try:
                    answer += sock.recv(65536)
                except OSError:
                    break

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # The server stopped reading near the limit; only socket buffers hold more than it.
    assert sent < planned / 4


def test_a_text_file_is_refused_with_415(voice_server):
    with voice_server() as live:
        response = transcribe(live.url, b"just some words", filename="notes.txt", media_type="text/plain")

    assert response.status_code == 415
    assert "unsupported media type" in response.json()["detail"]


def test_unknown_bytes_without_a_media_type_are_refused_with_415(voice_server):
    with voice_server() as live:
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
        response = transcribe(live.url, png, filename="blob", media_type="application/octet-stream")

    assert response.status_code == 415


def test_a_wav_that_does_not_decode_is_refused_with_422(voice_server):
    with voice_server() as live:
        broken = b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\xff" * 300
        response = transcribe(live.url, broken)

    assert response.status_code == 422
    assert "does not decode" in response.json()["detail"]


def test_audio_longer_than_the_configured_maximum_is_refused_with_413(voice_server):
    with voice_server(voice_max_audio_seconds=2) as live:
        response = transcribe(live.url, tone_wav(3.0))

    assert response.status_code == 413
    assert "VOICE_MAX_AUDIO_SECONDS" in response.json()["detail"]


def test_a_form_without_a_file_part_is_a_400(voice_server):
    with voice_server() as live:
        response = httpx.post(
            f"{live.url}/api/v1/voice/transcribe",
            files={"language": (None, "en")},
            headers=ADMIN,
        )

    assert response.status_code == 400
    assert "`file`" in response.json()["detail"]


def test_a_body_that_is_not_valid_multipart_is_a_400_not_a_500(voice_server):
    with voice_server() as live:
        no_boundary = httpx.post(
            f"{live.url}/api/v1/voice/transcribe",
            content=b"garbage",
            headers={**ADMIN, "Content-Type": "multipart/form-data"},
        )
        oversized_field = httpx.post(
            f"{live.url}/api/v1/voice/transcribe",
            files={"file": ("a.wav", tone_wav(0.5), "audio/wav")},
            data={"prompt": "x" * 10_000},
            headers=ADMIN,
        )
        json_body = httpx.post(f"{live.url}/api/v1/voice/transcribe", json={"file": "x"}, headers=ADMIN)
        bad_language = transcribe(live.url, tone_wav(0.5), language="english please")

    assert no_boundary.status_code == 400
    assert oversized_field.status_code == 400
    assert bad_language.status_code == 400
    assert "language" in bad_language.json()["detail"]
    assert json_body.status_code == 415


def test_the_offline_recogniser_refuses_a_language_it_does_not_know_with_400(voice_server):
    with voice_server() as live:
        response = transcribe(live.url, tone_wav(1.0), language="de")

    assert response.status_code == 400
    assert "English only" in response.json()["detail"]
