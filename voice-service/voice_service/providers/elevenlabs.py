"""ElevenLabs over its documented REST API: text-to-speech (streamed), Scribe speech-to-text, and the voice list."""

import math
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx

from nova_contracts.voice import AudioFormat, Voice, VoiceProvider
from voice_service.audio import wav_bytes
from voice_service.providers.base import Heard, Upload, provider_error, unreachable

DEFAULT_STT_MODEL = "scribe_v1"
DEFAULT_TTS_MODEL = "eleven_flash_v2_5"
DEFAULT_VOICE = "JBFqnCBsd6RMkjVDRZzb"  # "George", one of the premade voices every account has
_PCM_RATE = 22_050
_OUTPUT_FORMATS = {
    AudioFormat.MP3: "mp3_44100_128",
    AudioFormat.OPUS: "opus_48000_64",
    AudioFormat.WAV: f"pcm_{_PCM_RATE}",  # raw PCM: we add the WAV header
}
# ElevenLabs accepts voice_settings.speed in this range only.
_MIN_SPEED, _MAX_SPEED = 0.7, 1.2


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, dict):
        detail = detail.get("message") or detail
    return str(detail)[:300]


class ElevenLabsAudio:
    name = VoiceProvider.ELEVENLABS
    default_voice = DEFAULT_VOICE

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        http: httpx.AsyncClient,
        stt_model: str,
        tts_model: str,
        timeout: float,
    ):
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.stt_model = stt_model or DEFAULT_STT_MODEL
        self.tts_model = tts_model or DEFAULT_TTS_MODEL
        self.timeout = timeout
        self.headers = {"xi-api-key": api_key}

    async def transcribe(self, upload: Upload, *, language: str | None, prompt: str | None) -> Heard:
        data = {"model_id": self.stt_model}
        if language:
            data["language_code"] = language
        try:
            response = await self.http.post(
                f"{self.base_url}/v1/speech-to-text",
                data=data,
                files={"file": (upload.filename, upload.data, upload.media_type)},
                headers=self.headers,
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise unreachable(self.name, exc) from exc
        if response.status_code != 200:
            raise provider_error(self.name, response.status_code, _detail(response))
        body = response.json()
        logprobs = [
            w["logprob"]
            for w in body.get("words") or []
            if w.get("type") == "word" and isinstance(w.get("logprob"), int | float)
        ]
        confidence = round(math.exp(sum(logprobs) / len(logprobs)), 4) if logprobs else None
        return Heard(
            text=str(body.get("text", "")).strip(),
            language=body.get("language_code") or language,
            confidence=min(1.0, confidence) if confidence is not None else None,
        )

    async def synthesize(
        self, text: str, *, voice: str, fmt: AudioFormat, speed: float
    ) -> AsyncIterator[bytes]:
        body = {
            "text": text,
            "model_id": self.tts_model,
            "voice_settings": {"speed": max(_MIN_SPEED, min(_MAX_SPEED, speed))},
        }
        pcm: list[bytes] = []
        try:
            async with self.http.stream(
                "POST",
                f"{self.base_url}/v1/text-to-speech/{quote(voice, safe='')}/stream",
                params={"output_format": _OUTPUT_FORMATS[fmt]},
                json=body,
                headers=self.headers,
                timeout=self.timeout,
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise provider_error(self.name, response.status_code, _detail(response))
                async for chunk in response.aiter_bytes():
                    if fmt is AudioFormat.WAV:
                        pcm.append(chunk)
                    else:
                        yield chunk
        except httpx.HTTPError as exc:
            raise unreachable(self.name, exc) from exc
        if fmt is AudioFormat.WAV:
            yield wav_bytes(b"".join(pcm), _PCM_RATE)

    async def voices(self) -> list[Voice]:
        try:
            response = await self.http.get(f"{self.base_url}/v1/voices", headers=self.headers, timeout=10.0)
        except httpx.HTTPError as exc:
            raise unreachable(self.name, exc) from exc
        if response.status_code != 200:
            raise provider_error(self.name, response.status_code, _detail(response))
        return [
            Voice(
                id=v["voice_id"],
                name=v.get("name") or v["voice_id"],
                language=(v.get("labels") or {}).get("language"),
            )
            for v in response.json().get("voices", [])
            if isinstance(v, dict) and v.get("voice_id")
        ]
