"""Fixtures: voice-service served on a real loopback port, the provider fakes, and audio to send it."""

import io
import sys
import wave
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

# The fake providers live in the repo's top-level `tests/fakes` (imported as `fakes`, see its docstring).
_TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import httpx  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402
from fakes.deepgram_fake import FakeDeepgram  # noqa: E402
from fakes.elevenlabs_fake import FakeElevenLabs  # noqa: E402
from fakes.openai_audio_fake import FakeOpenAIAudio, tone_wav  # noqa: E402
from fakes.server import LiveServer, serve_in_thread  # noqa: E402

from nova_common.embedded import free_port  # noqa: E402
from nova_common.redis import redis_url_for  # noqa: E402
from nova_common.secretbox import seal_config_value  # noqa: E402
from nova_contracts.orchestrator import config_redis_key, encode_config_value  # noqa: E402
from voice_service.config import Settings  # noqa: E402
from voice_service.main import create_app  # noqa: E402

ADMIN_SECRET = "test-admin-secret-0123456789"
SERVICE_TOKEN = "test-service-token-0123456789"
ADMIN = {"X-Admin-Secret": ADMIN_SECRET}
OPENAI_KEY = "sk-test-openai-voice"
DEEPGRAM_KEY = "dg-test-key"
ELEVENLABS_KEY = "el-test-key"


@pytest.fixture
def voice_settings(nova_env: dict[str, str], redis_base_url: str) -> Callable[..., Settings]:
    """Settings with no provider configured and auth required, unless the test says otherwise."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_base_url,
            "orchestrator_url": f"http://127.0.0.1:{free_port()}",
            "require_auth": True,
            "config_refresh_seconds": 0,
            # A developer's own keys in the environment must not change what the tests see.
            "openai_api_key": "",
            "deepgram_api_key": "",
            "elevenlabs_api_key": "",
            "voice_openai_compatible_url": "",
            **overrides,
        }
        return Settings(**values)

    return make


@pytest.fixture
def voice_server(
    voice_settings: Callable[..., Settings],
) -> Callable[..., AbstractContextManager[LiveServer]]:
    """`with voice_server(**settings) as live:` a real voice-service under uvicorn."""

    @contextmanager
    def serve(**overrides: Any) -> Iterator[LiveServer]:
        with serve_in_thread(create_app(voice_settings(**overrides))) as live:
            yield live

    return serve


@pytest.fixture
def set_platform_config(redis_base_url: str) -> Callable[..., None]:
    """Write a platform setting into Redis DB 1 as the orchestrator mirrors it (secrets sealed)."""

    def put(key: str, value: Any, *, secret: bool = False) -> None:
        client = redis.Redis.from_url(redis_url_for("llm-gateway", redis_base_url))
        try:
            raw = seal_config_value(value, SERVICE_TOKEN) if secret else encode_config_value(value)
            client.set(config_redis_key(key), raw)
        finally:
            client.close()

    return put


@pytest.fixture
def openai_fake() -> Iterator[tuple[FakeOpenAIAudio, str]]:
    fake = FakeOpenAIAudio(api_key=OPENAI_KEY)
    with serve_in_thread(fake.app) as live:
        yield fake, f"{live.url}/v1"


@pytest.fixture
def deepgram_fake() -> Iterator[tuple[FakeDeepgram, str]]:
    fake = FakeDeepgram(api_key=DEEPGRAM_KEY)
    with serve_in_thread(fake.app) as live:
        yield fake, live.url


@pytest.fixture
def elevenlabs_fake() -> Iterator[tuple[FakeElevenLabs, str]]:
    fake = FakeElevenLabs(api_key=ELEVENLABS_KEY)
    with serve_in_thread(fake.app) as live:
        yield fake, live.url


def silence_wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def transcribe(
    url: str, audio: bytes, *, filename: str = "clip.wav", media_type: str = "audio/wav", **fields: str
) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/voice/transcribe",
        files={"file": (filename, audio, media_type)},
        data=fields,
        headers=ADMIN,
        timeout=60,
    )


__all__ = ["ADMIN", "silence_wav", "tone_wav", "transcribe"]
