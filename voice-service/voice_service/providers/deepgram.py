"""Deepgram over its documented REST API: `/v1/listen` (prerecorded transcription) and `/v1/speak` (Aura voices).

httpx rather than the `deepgram-sdk`: the SDK has been rewritten across major versions (v3, v4, v5) with
incompatible call shapes, while these two REST endpoints have stayed put, and two calls need no SDK.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx

from nova_contracts.voice import AudioFormat, Voice, VoiceProvider
from voice_service.providers.base import Heard, Upload, provider_error, unreachable

DEFAULT_STT_MODEL = "nova-3"
DEFAULT_VOICE = "aura-2-thalia-en"
# A selection of Aura-2 English voices; any Aura model name is accepted as a voice.
AURA_VOICES = (
    "thalia",
    "andromeda",
    "apollo",
    "arcas",
    "aries",
    "asteria",
    "athena",
    "helena",
    "hermes",
    "luna",
    "orion",
    "zeus",
)
# `/v1/speak` names encodings and containers separately.
_SPEAK_FORMATS: dict[AudioFormat, dict[str, str]] = {
    AudioFormat.MP3: {"encoding": "mp3"},
    AudioFormat.OPUS: {"encoding": "opus", "container": "ogg"},
    AudioFormat.WAV: {"encoding": "linear16", "container": "wav"},
}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("err_msg") or body.get("reason") or body.get("message") or body)[:300]
    return str(body)[:300]


class DeepgramAudio:
    name = VoiceProvider.DEEPGRAM
    default_voice = DEFAULT_VOICE

    def __init__(
        self, *, api_key: str, base_url: str, http: httpx.AsyncClient, stt_model: str, timeout: float
    ):
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.stt_model = stt_model or DEFAULT_STT_MODEL
        self.timeout = timeout
        self.headers = {"Authorization": f"Token {api_key}"}

    async def transcribe(self, upload: Upload, *, language: str | None, prompt: str | None) -> Heard:
        params: dict[str, Any] = {"model": self.stt_model, "smart_format": "true"}
        if language:
            params["language"] = language
        else:
            params["detect_language"] = "true"
        try:
            response = await self.http.post(
                f"{self.base_url}/v1/listen",
                params=params,
                content=upload.data,
                headers={**self.headers, "Content-Type": upload.media_type},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise unreachable(self.name, exc) from exc
        if response.status_code != 200:
            raise provider_error(self.name, response.status_code, _detail(response))
        channel = response.json()["results"]["channels"][0]
        best = channel["alternatives"][0]
        return Heard(
            text=str(best.get("transcript", "")).strip(),
            language=channel.get("detected_language") or language,
            confidence=best.get("confidence"),
        )

    async def synthesize(
        self, text: str, *, voice: str, fmt: AudioFormat, speed: float
    ) -> AsyncIterator[bytes]:
        # Aura has no speed control: `speed` is not sent.
        params = {"model": voice, **_SPEAK_FORMATS[fmt]}
        try:
            async with self.http.stream(
                "POST",
                f"{self.base_url}/v1/speak",
                params=params,
                json={"text": text},
                headers=self.headers,
                timeout=self.timeout,
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise provider_error(self.name, response.status_code, _detail(response))
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.HTTPError as exc:
            raise unreachable(self.name, exc) from exc

    async def voices(self) -> list[Voice]:
        return [Voice(id=f"aura-2-{v}-en", name=v.capitalize(), language="en") for v in AURA_VOICES]
