"""OpenAI's audio endpoints through the official SDK, and any OpenAI-compatible audio server by URL.

faster-whisper-server (speaches), Kokoro-FastAPI and the like answer `/v1/audio/transcriptions` and
`/v1/audio/speech` the way OpenAI does, so the same client serves them with another base URL.
"""

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
from openai import AsyncOpenAI

from nova_common.errors import NovaError
from nova_contracts.voice import AudioFormat, Voice, VoiceProvider
from voice_service.providers.base import Heard, Upload, provider_error, unreachable

OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
DEFAULT_VOICE = "alloy"
DEFAULT_STT_MODEL = "whisper-1"
DEFAULT_TTS_MODEL = "tts-1"
# Whisper's language names as the verbose answer gives them, for the common ones; others pass through.
_LANGUAGE_CODES = {
    "english": "en",
    "german": "de",
    "french": "fr",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
    "chinese": "zh",
    "japanese": "ja",
    "korean": "ko",
}


def _error(provider: VoiceProvider, exc: openai.OpenAIError) -> NovaError:
    if isinstance(exc, openai.APIStatusError):
        # `body` is the answer's `error` object; `message` repeats the status code in front of it.
        body = exc.body if isinstance(exc.body, dict) else {}
        message = str(body.get("message") or exc.message)
        return provider_error(provider, exc.status_code, message)
    return unreachable(provider, exc)


def _confidence(segments: list[Any] | None) -> float | None:
    """Whisper's mean per-token log-probability over segments, as a probability."""
    logprobs = [s.avg_logprob for s in segments or [] if getattr(s, "avg_logprob", None) is not None]
    if not logprobs:
        return None
    return round(min(1.0, max(0.0, math.exp(sum(logprobs) / len(logprobs)))), 4)


class OpenAIAudio:
    def __init__(
        self,
        name: VoiceProvider,
        *,
        client: AsyncOpenAI,
        http: httpx.AsyncClient,
        stt_model: str,
        tts_model: str,
    ) -> None:
        self.name = name
        self.default_voice = DEFAULT_VOICE
        self.stt_model = stt_model or DEFAULT_STT_MODEL
        self.tts_model = tts_model or DEFAULT_TTS_MODEL
        self.client = client
        self.base_url = str(client.base_url).rstrip("/")
        self.http = http

    async def transcribe(self, upload: Upload, *, language: str | None, prompt: str | None) -> Heard:
        # `verbose_json` carries the detected language and per-segment confidence; the gpt-4o models only
        # answer `json`.
        verbose = self.stt_model.startswith("whisper") or self.name is VoiceProvider.OPENAI_COMPATIBLE
        options: dict[str, Any] = {}
        if language:
            options["language"] = language
        if prompt:
            options["prompt"] = prompt
        try:
            result = await self.client.audio.transcriptions.create(
                model=self.stt_model,
                file=(upload.filename, upload.data, upload.media_type),
                response_format="verbose_json" if verbose else "json",
                **options,
            )
        except openai.OpenAIError as exc:
            raise _error(self.name, exc) from exc
        detected = getattr(result, "language", None)
        if isinstance(detected, str):
            detected = _LANGUAGE_CODES.get(detected.lower(), detected)
        return Heard(
            text=result.text.strip(),
            language=detected or language,
            confidence=_confidence(getattr(result, "segments", None)),
        )

    async def synthesize(
        self, text: str, *, voice: str, fmt: AudioFormat, speed: float
    ) -> AsyncIterator[bytes]:
        try:
            async with self.client.audio.speech.with_streaming_response.create(
                model=self.tts_model, voice=voice, input=text, response_format=fmt.value, speed=speed
            ) as response:
                async for chunk in response.iter_bytes():
                    yield chunk
        except openai.OpenAIError as exc:
            raise _error(self.name, exc) from exc
        except httpx.HTTPError as exc:  # the SDK's transport failing mid-stream
            raise unreachable(self.name, exc) from exc

    async def voices(self) -> list[Voice]:
        if self.name is VoiceProvider.OPENAI_COMPATIBLE:
            listed = await self._server_voices()
            if listed:
                return listed
        return [Voice(id=v, name=v.capitalize()) for v in OPENAI_VOICES]

    async def _server_voices(self) -> list[Voice]:
        """Kokoro-FastAPI lists its voices at `/audio/voices`; servers without that list get OpenAI's names."""
        try:
            response = await self.http.get(f"{self.base_url}/audio/voices", timeout=5.0)
            names = response.json().get("voices", []) if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError, AttributeError):
            return []
        voices: list[Voice] = []
        for item in names if isinstance(names, list) else []:
            voice_id = item if isinstance(item, str) else item.get("id") if isinstance(item, dict) else None
            if isinstance(voice_id, str) and voice_id:
                voices.append(Voice(id=voice_id, name=voice_id))
        return voices
