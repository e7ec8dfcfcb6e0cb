"""Who may call voice-service: the service token (chat-bridge) beside keys and the admin secret."""

import httpx

from nova_common.auth import Principal
from voice_service.callers import caller_name

from .conftest import ADMIN, SERVICE_TOKEN, silence_wav

BRIDGE = {"X-Service-Token": SERVICE_TOKEN, "X-Nova-Caller": "chat-bridge"}


def _speak(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/voice/synthesize", json={"text": "Hi.", "format": "wav"}, headers=headers, timeout=60
    )


def _hear(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/voice/transcribe",
        files={"file": ("clip.wav", silence_wav(0.5), "audio/wav")},
        headers=headers,
        timeout=60,
    )


def test_the_service_token_is_accepted_on_transcribe_and_synthesize_and_a_wrong_one_refused(voice_server):
    wrong = {"X-Service-Token": "not-the-service-token-0123"}
    with voice_server() as live:
        spoken = _speak(live.url, BRIDGE)
        heard = _hear(live.url, BRIDGE)
        refused_speak = _speak(live.url, wrong)
        refused_hear = _hear(live.url, wrong)
        # A wrong token is not rescued by another credential in the same request.
        with_admin = _speak(live.url, {**wrong, **ADMIN})

    assert spoken.status_code == 200, spoken.text
    assert spoken.content.startswith(b"RIFF")
    assert heard.status_code == 200, heard.text
    assert heard.json()["text"] == ""
    assert [r.status_code for r in (refused_speak, refused_hear, with_admin)] == [401, 401, 401]
    assert refused_speak.json()["detail"] == "invalid service token"


def test_a_service_caller_is_not_held_to_the_per_caller_synthesis_limit(voice_server):
    with voice_server(voice_tts_requests_per_minute=1) as live:
        answers = [_speak(live.url, BRIDGE).status_code for _ in range(3)]

    assert answers == [200, 200, 200]


def test_the_caller_is_named_by_its_credential_and_a_service_by_its_header():
    assert caller_name(Principal(kind="service"), "chat-bridge") == "service:chat-bridge"
    assert caller_name(Principal(kind="service"), "<script>\n") == "service"
    assert caller_name(Principal(kind="service"), None) == "service"
    assert caller_name(Principal(kind="admin"), "chat-bridge") == "admin"
    assert caller_name(Principal(kind="anonymous"), None) == "local"
