"""voice-service settings, read from the environment and `.env`.

Provider, voice, speed and keys set in the dashboard (platform config, Redis DB 1) win over these; the
environment is the fallback (see `runtime_config.py`).
"""

from functools import lru_cache

from pydantic import Field, SecretStr

from nova_common.config import NovaSettings
from nova_common.credentials import KEY_CACHE_SECONDS
from nova_contracts.voice import ProviderChoice


class Settings(NovaSettings):
    service_name: str = "voice-service"
    port: int = 8130

    # Fallbacks for the runtime settings `voice.*`.
    voice_stt_provider: ProviderChoice = ProviderChoice.AUTO
    voice_tts_provider: ProviderChoice = ProviderChoice.AUTO
    voice_tts_voice: str = ""
    voice_tts_speed: float = Field(default=1.0, ge=0.25, le=4.0)
    voice_stt_model: str = ""
    voice_tts_model: str = ""
    voice_openai_compatible_url: str = ""
    openai_api_key: SecretStr = SecretStr("")
    deepgram_api_key: SecretStr = SecretStr("")
    elevenlabs_api_key: SecretStr = SecretStr("")
    # Provider endpoints; tests point them at loopback fakes.
    voice_openai_base_url: str = "https://api.openai.com/v1"
    voice_deepgram_base_url: str = "https://api.deepgram.com"
    voice_elevenlabs_base_url: str = "https://api.elevenlabs.io"

    # Upload limits: bytes are counted while the upload arrives; duration is measured by decoding.
    voice_max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    voice_max_audio_seconds: float = Field(default=600.0, gt=0)
    # Below these the audio holds no speech worth sending anywhere: the answer is empty text.
    voice_min_speech_ms: int = Field(default=250, ge=0)
    voice_silence_dbfs: float = Field(default=-45.0, le=0)

    voice_tts_requests_per_minute: int = Field(default=60, ge=1)
    provider_timeout_seconds: float = Field(default=60.0, gt=0)
    config_refresh_seconds: float = Field(default=3.0, ge=0)
    # How long a key's validation is trusted: the stack's revocation bound (nova_common.credentials).
    api_key_cache_seconds: float = Field(default=KEY_CACHE_SECONDS, gt=0, le=300)


@lru_cache
def get_settings() -> Settings:
    return Settings()
