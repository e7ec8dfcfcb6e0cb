"""API keys against a real orchestrator process: a key it issued is accepted, limited per key, and refused once revoked."""

import sys
from pathlib import Path

import httpx

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.stack import service_process  # noqa: E402

from nova_common.embedded import free_port  # noqa: E402

from .conftest import ADMIN  # noqa: E402


def _speak(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/voice/synthesize",
        json={"text": "Hi.", "format": "wav"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def test_an_orchestrator_key_is_accepted_limited_per_key_and_refused_after_revocation(
    voice_server, database_url, redis_base_url, tmp_path, wait_until
):
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_base_url,
        "LLM_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
        "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "NOVA_WORKSPACE": str(tmp_path),
        "REQUIRE_AUTH": "true",
    }
    with service_process("orchestrator", env, tmp_path) as orchestrator:
        created = httpx.post(f"{orchestrator.url}/api/v1/keys", json={"name": "voice"}, headers=ADMIN)
        created.raise_for_status()
        key, key_id = created.json()["key"], created.json()["id"]
        with voice_server(
            orchestrator_url=orchestrator.url, voice_tts_requests_per_minute=1, api_key_cache_seconds=1
        ) as live:
            first = _speak(live.url, key)
            second = _speak(live.url, key)
            unknown = _speak(live.url, "sk-nova-" + "x" * 43)
            httpx.delete(f"{orchestrator.url}/api/v1/keys/{key_id}", headers=ADMIN).raise_for_status()
            revoked = wait_until(lambda: _speak(live.url, key).status_code == 401, timeout=30)

    assert first.status_code == 200, first.text
    assert second.status_code == 429
    assert unknown.status_code == 401
    assert revoked


def test_a_keys_requests_per_minute_is_one_window_shared_with_the_orchestrator(
    voice_server, database_url, redis_base_url, tmp_path
):
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_base_url,
        "LLM_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
        "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "NOVA_WORKSPACE": str(tmp_path),
        "REQUIRE_AUTH": "true",
    }
    with service_process("orchestrator", env, tmp_path) as orchestrator:
        created = httpx.post(
            f"{orchestrator.url}/api/v1/keys", json={"name": "voice", "rate_limit_rpm": 3}, headers=ADMIN
        )
        created.raise_for_status()
        headers = {"Authorization": f"Bearer {created.json()['key']}"}
        with voice_server(orchestrator_url=orchestrator.url) as live:
            at_orchestrator = [
                httpx.get(f"{orchestrator.url}/api/v1/agents", headers=headers).status_code for _ in range(2)
            ]
            at_voice = [
                httpx.get(f"{live.url}/api/v1/voice/voices", headers=headers).status_code for _ in range(2)
            ]
            orchestrator_after = httpx.get(f"{orchestrator.url}/api/v1/agents", headers=headers)

    assert at_orchestrator == [200, 200]
    # Three requests a minute in all: the third is voice's, the fourth is refused wherever it goes.
    assert at_voice == [200, 429]
    assert orchestrator_after.status_code == 429
