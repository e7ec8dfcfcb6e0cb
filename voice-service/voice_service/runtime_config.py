"""The voice settings in force: platform config (Redis DB 1, `nova:config:voice.*`) over the environment.

The orchestrator mirrors every platform setting into DB 1 on startup and on each change; provider keys
arrive there sealed with the service token (`nova_common.secretbox`) and are opened here. Values are
re-read at most every `config_refresh_seconds`, so a change in the dashboard applies without a restart.
A setting removed from the platform config falls back to the environment on the next read.
"""

import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from pydantic import SecretStr

from nova_common.errors import NotConfigured
from nova_common.secretbox import SecretUnreadable, open_config_value
from nova_contracts.orchestrator import config_redis_key, decode_config_value, provider_key_setting
from nova_contracts.voice import ProviderChoice
from voice_service.config import Settings

log = structlog.get_logger("voice_service.config")

PLAIN_KEYS = (
    "voice.stt_provider",
    "voice.tts_provider",
    "voice.tts_voice",
    "voice.tts_speed",
    "voice.stt_model",
    "voice.tts_model",
    "voice.openai_compatible_url",
)
OPENAI_KEY_SETTING = provider_key_setting("openai")  # shared with llm-gateway: one OpenAI key for both
SECRET_KEYS = (OPENAI_KEY_SETTING, "voice.deepgram_api_key", "voice.elevenlabs_api_key")


@dataclass(frozen=True)
class VoiceConfig:
    stt_provider: ProviderChoice
    tts_provider: ProviderChoice
    tts_voice: str
    tts_speed: float
    stt_model: str
    tts_model: str
    openai_compatible_url: str
    openai_api_key: str
    deepgram_api_key: str
    elevenlabs_api_key: str


def _choice(raw: Any, fallback: ProviderChoice, key: str) -> ProviderChoice:
    if raw in (None, ""):
        return fallback
    try:
        return ProviderChoice(str(raw))
    except ValueError:
        log.warning("voice_setting_ignored", key=key, value=str(raw)[:50])
        return fallback


def _speed(raw: Any, fallback: float) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return fallback
    return value if 0.25 <= value <= 4.0 else fallback


def build_config(settings: Settings, values: dict[str, Any]) -> VoiceConfig:
    def text(key: str, fallback: str | SecretStr) -> str:
        value = values.get(key)
        if value in (None, ""):
            return fallback.get_secret_value() if isinstance(fallback, SecretStr) else fallback
        return str(value)

    return VoiceConfig(
        stt_provider=_choice(values.get("voice.stt_provider"), settings.voice_stt_provider, "stt_provider"),
        tts_provider=_choice(values.get("voice.tts_provider"), settings.voice_tts_provider, "tts_provider"),
        tts_voice=text("voice.tts_voice", settings.voice_tts_voice),
        tts_speed=_speed(values.get("voice.tts_speed"), settings.voice_tts_speed),
        stt_model=text("voice.stt_model", settings.voice_stt_model),
        tts_model=text("voice.tts_model", settings.voice_tts_model),
        openai_compatible_url=text("voice.openai_compatible_url", settings.voice_openai_compatible_url),
        openai_api_key=text(OPENAI_KEY_SETTING, settings.openai_api_key),
        deepgram_api_key=text("voice.deepgram_api_key", settings.deepgram_api_key),
        elevenlabs_api_key=text("voice.elevenlabs_api_key", settings.elevenlabs_api_key),
    )


class VoiceConfigStore:
    def __init__(self, config_redis: aioredis.Redis, settings: Settings) -> None:
        self.config_redis = config_redis
        self.settings = settings
        self._current: VoiceConfig | None = None
        self._read_at = float("-inf")

    async def current(self) -> VoiceConfig:
        if (
            self._current is not None
            and time.monotonic() - self._read_at < self.settings.config_refresh_seconds
        ):
            return self._current
        keys = (*PLAIN_KEYS, *SECRET_KEYS)
        try:
            raw = await self.config_redis.mget([config_redis_key(k) for k in keys])
        except Exception as exc:
            # Keep serving with what was last read (or the environment) while Redis is away.
            log.warning("voice_config_unreadable", error=type(exc).__name__)
            if self._current is not None:
                return self._current
            raw = [None] * len(keys)
        self._current = build_config(self.settings, self._decode(dict(zip(keys, raw, strict=True))))
        self._read_at = time.monotonic()
        return self._current

    def _decode(self, raw: dict[str, Any]) -> dict[str, Any]:
        token = self.settings.service_token.get_secret_value()
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if value is None:
                continue
            try:
                values[key] = (
                    open_config_value(value, token) if key in SECRET_KEYS else decode_config_value(value)
                )
            except (SecretUnreadable, ValueError, NotConfigured) as exc:
                # Sealed with another NOVA_SERVICE_TOKEN, or written by hand: the environment value stands.
                log.warning("voice_setting_unreadable", key=key, reason=str(exc)[:200])
        return values
