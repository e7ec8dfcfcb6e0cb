"""The rules of voice: which provider answers, what counts as silence, and how audio leaves the service."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from starlette.datastructures import UploadFile

from nova_common.credentials import KeyRateLimiter
from nova_common.errors import BadRequest, NotConfigured
from nova_contracts.voice import (
    AUDIO_MEDIA_TYPES,
    ProviderChoice,
    ProvidersReport,
    SynthesisRequest,
    Transcription,
    VoiceList,
    VoiceProvider,
)
from voice_service.audio import UPLOAD_MEDIA_TYPES, classify, decode
from voice_service.callers import VoiceCaller
from voice_service.config import Settings
from voice_service.limits import SynthesisLimiter
from voice_service.providers.base import Upload
from voice_service.providers.registry import VoiceProviderRegistry
from voice_service.runtime_config import VoiceConfigStore

log = structlog.get_logger("voice_service.service")

_SNIFF_BYTES = 64


@dataclass(frozen=True)
class AudioStream:
    media_type: str
    provider: VoiceProvider
    chunks: AsyncIterator[bytes]


def _provider(raw: str | None) -> VoiceProvider | None:
    if raw is None:
        return None
    try:
        return VoiceProvider(raw)
    except ValueError as exc:
        raise BadRequest(f"unknown provider {raw!r}; one of {', '.join(VoiceProvider)}") from exc


class VoiceService:
    def __init__(
        self,
        settings: Settings,
        config: VoiceConfigStore,
        registry: VoiceProviderRegistry,
        limiter: SynthesisLimiter,
        key_limiter: KeyRateLimiter,
    ) -> None:
        self.settings = settings
        self.config = config
        self.registry = registry
        self.limiter = limiter
        self.key_limiter = key_limiter

    async def _pick(
        self, requested: VoiceProvider | None, configured: ProviderChoice, what: str
    ) -> VoiceProvider:
        config = await self.config.current()
        choice: ProviderChoice | VoiceProvider = requested or configured
        provider = self.registry.resolve(choice, config)
        if provider is None:
            if choice == ProviderChoice.AUTO:
                raise NotConfigured(f"no {what} provider is usable; see GET /api/v1/voice/providers")
            reason = self.registry.availability(VoiceProvider(choice.value), config).reason
            raise NotConfigured(f"{what} provider {choice} is not usable: {reason}")
        return provider

    async def providers(self) -> ProvidersReport:
        config = await self.config.current()
        return ProvidersReport(
            stt_provider=self.registry.resolve(config.stt_provider, config),
            tts_provider=self.registry.resolve(config.tts_provider, config),
            providers=self.registry.statuses(config),
        )

    async def transcribe(
        self,
        file: UploadFile,
        caller: VoiceCaller,
        *,
        language: str | None,
        prompt: str | None,
        provider: str | None,
    ) -> Transcription:
        config = await self.config.current()
        chosen = await self._pick(_provider(provider), config.stt_provider, "speech-to-text")
        head = await file.read(_SNIFF_BYTES)
        kind = classify(file.content_type, file.filename, head)
        await file.seek(0)
        audio = await asyncio.to_thread(
            decode,
            file.file,
            kind,
            max_seconds=self.settings.voice_max_audio_seconds,
            silence_dbfs=self.settings.voice_silence_dbfs,
        )
        if audio.is_silent(self.settings.voice_min_speech_ms):
            # Speech models invent sentences for silence; nothing is sent and nothing is guessed.
            return Transcription(text="", language=language, duration_ms=audio.duration_ms, provider=chosen)
        await file.seek(0)
        data = await file.read()
        upload = Upload(
            data=data,
            filename=file.filename or f"audio.{kind}",
            media_type=UPLOAD_MEDIA_TYPES[kind],
            audio=audio,
        )
        heard = await self.registry.listener(chosen, config).transcribe(
            upload, language=language, prompt=prompt
        )
        log.info(
            "transcribed",
            provider=chosen,
            caller=caller.name,
            duration_ms=audio.duration_ms,
            chars=len(heard.text),
        )
        return Transcription(
            text=heard.text,
            language=heard.language,
            duration_ms=audio.duration_ms,
            confidence=heard.confidence,
            provider=chosen,
        )

    async def synthesize(self, request: SynthesisRequest, caller: VoiceCaller) -> AudioStream:
        await self.limiter.admit(caller.principal)
        config = await self.config.current()
        chosen = await self._pick(request.provider, config.tts_provider, "text-to-speech")
        speaker = self.registry.speaker(chosen, config)
        # The configured voice belongs to the configured provider; another provider gets its own default.
        in_force = self.registry.resolve(config.tts_provider, config)
        configured_voice = config.tts_voice if chosen == in_force else ""
        voice = request.voice or configured_voice or speaker.default_voice
        chunks = speaker.synthesize(
            request.text, voice=voice, fmt=request.format, speed=request.speed or config.tts_speed
        )
        # The first chunk is awaited here, so a refused key or an unknown voice is a status code, not a
        # stream that breaks after a 200.
        first = await anext(chunks, b"")
        log.info(
            "synthesis_started",
            provider=chosen,
            caller=caller.name,
            chars=len(request.text),
            format=request.format,
        )

        async def rest() -> AsyncIterator[bytes]:
            try:
                if first:
                    yield first
                async for chunk in chunks:
                    yield chunk
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]

        return AudioStream(media_type=AUDIO_MEDIA_TYPES[request.format], provider=chosen, chunks=rest())

    async def voices(self, provider: VoiceProvider | None) -> VoiceList:
        config = await self.config.current()
        chosen = await self._pick(provider, config.tts_provider, "text-to-speech")
        return VoiceList(provider=chosen, voices=await self.registry.speaker(chosen, config).voices())
