"""What every provider offers, and how a provider's HTTP failure becomes one of the kit's errors."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from nova_common.errors import BadRequest, NotConfigured, NovaError, RateLimited, UpstreamUnavailable
from nova_contracts.voice import AudioFormat, Voice, VoiceProvider
from voice_service.audio import DecodedAudio


@dataclass(frozen=True)
class Upload:
    """An upload that decoded cleanly: its bytes (sent to cloud providers as they are) and its decoded PCM."""

    data: bytes
    filename: str
    media_type: str
    audio: DecodedAudio


@dataclass(frozen=True)
class Heard:
    text: str
    language: str | None = None
    confidence: float | None = None


class SpeechToText(Protocol):
    name: VoiceProvider

    async def transcribe(self, upload: Upload, *, language: str | None, prompt: str | None) -> Heard: ...


class TextToSpeech(Protocol):
    name: VoiceProvider
    default_voice: str

    def synthesize(self, text: str, *, voice: str, fmt: AudioFormat, speed: float) -> AsyncIterator[bytes]:
        """Audio bytes as the provider produces them; a failure surfaces on the first iteration."""
        ...

    async def voices(self) -> list[Voice]: ...


def provider_error(provider: VoiceProvider, status: int, detail: str) -> NovaError:
    """A provider's non-2xx answer as the error our caller should see (its meaning kept, its name said)."""
    detail = detail.strip()[:300] or "no detail"
    if status in (401, 403):
        return NotConfigured(f"{provider} refused the configured API key ({status}): {detail}")
    if status == 429:
        return RateLimited(f"{provider} is rate limiting us: {detail}", retry_after=5)
    if 400 <= status < 500:
        return BadRequest(f"{provider} refused the request ({status}): {detail}")
    return UpstreamUnavailable(f"{provider} answered {status}: {detail}")


def unreachable(provider: VoiceProvider, exc: Exception) -> UpstreamUnavailable:
    return UpstreamUnavailable(f"{provider} is unreachable ({type(exc).__name__})")
