"""voice-service contract: transcription results, synthesis requests, voices and provider status.

The dashboard and chat-bridge call `/api/v1/voice/*`; both read these models.
"""

from enum import StrEnum

from pydantic import Field

from nova_contracts.base import RequestModel, ResponseModel

MAX_SYNTHESIS_CHARS = 4096


class VoiceProvider(StrEnum):
    """Where speech is recognised or produced. `offline` needs no key and no network."""

    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"
    DEEPGRAM = "deepgram"
    ELEVENLABS = "elevenlabs"
    OFFLINE = "offline"


class ProviderChoice(StrEnum):
    """A configured provider; `auto` takes the first usable one (see the service README)."""

    AUTO = "auto"
    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"
    DEEPGRAM = "deepgram"
    ELEVENLABS = "elevenlabs"
    OFFLINE = "offline"


class AudioFormat(StrEnum):
    MP3 = "mp3"
    OPUS = "opus"  # Opus in an Ogg container
    WAV = "wav"


AUDIO_MEDIA_TYPES: dict[AudioFormat, str] = {
    AudioFormat.MP3: "audio/mpeg",
    AudioFormat.OPUS: "audio/ogg",
    AudioFormat.WAV: "audio/wav",
}


class Transcription(ResponseModel):
    """`text` is empty for silence or audio too short to hold speech: never a guessed sentence."""

    text: str
    language: str | None = None
    duration_ms: int
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    provider: VoiceProvider


class SynthesisRequest(RequestModel):
    text: str = Field(min_length=1, max_length=MAX_SYNTHESIS_CHARS)
    # A provider's voice id (`GET /api/v1/voice/voices`); omitted: the configured `voice.tts_voice`.
    # Provider voice ids are names like `nova`, `aura-2-thalia-en`, `en-us+f2` or Kokoro blends
    # `af_bella(2)+af_sky(1)`; no `/`, since some providers put the voice in the URL path.
    voice: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:+\-(), ]+$")
    format: AudioFormat = AudioFormat.MP3
    # 1.0 is the provider's normal pace; omitted: the configured `voice.tts_speed`.
    speed: float | None = Field(default=None, ge=0.25, le=4.0)
    # Omitted: the configured `voice.tts_provider` (a dashboard voice preview names one explicitly).
    provider: VoiceProvider | None = None


class Voice(ResponseModel):
    id: str
    name: str
    language: str | None = None


class VoiceList(ResponseModel):
    provider: VoiceProvider
    voices: list[Voice]


class VoiceProviderStatus(ResponseModel):
    """One provider: what it can do, whether it is configured, and if it cannot be used, why."""

    provider: VoiceProvider
    speech_to_text: bool
    text_to_speech: bool
    configured: bool
    usable: bool
    reason: str | None = None


class ProvidersReport(ResponseModel):
    """The providers in force now (after `auto` is resolved; None when nothing usable) and every provider."""

    stt_provider: VoiceProvider | None
    tts_provider: VoiceProvider | None
    providers: list[VoiceProviderStatus]
