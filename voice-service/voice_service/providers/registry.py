"""Which provider serves a request: the configured choice, or with `auto` the first one that can.

Providers are built from the settings in force at each request (a key changed in the dashboard applies on
the next call); they share one HTTP client so connections are pooled across key changes.
"""

from dataclasses import dataclass

import httpx
from openai import AsyncOpenAI

from nova_common.errors import NotConfigured
from nova_contracts.voice import ProviderChoice, VoiceProvider, VoiceProviderStatus
from voice_service.config import Settings
from voice_service.providers.base import SpeechToText, TextToSpeech
from voice_service.providers.deepgram import DeepgramAudio
from voice_service.providers.elevenlabs import ElevenLabsAudio
from voice_service.providers.offline import OfflineVoice
from voice_service.providers.openai_audio import OpenAIAudio
from voice_service.runtime_config import VoiceConfig

# `auto` prefers a local server the admin pointed us at, then the cloud keys, then the offline voice.
AUTO_ORDER = (
    VoiceProvider.OPENAI_COMPATIBLE,
    VoiceProvider.OPENAI,
    VoiceProvider.DEEPGRAM,
    VoiceProvider.ELEVENLABS,
    VoiceProvider.OFFLINE,
)


@dataclass(frozen=True)
class Availability:
    configured: bool
    reason: str | None  # why it cannot be used; None when usable


class VoiceProviderRegistry:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, offline: OfflineVoice) -> None:
        self.settings = settings
        self.http = http
        self.offline = offline
        # The SDK brings its own HTTP client; one per (URL, key) keeps its connections pooled.
        self._openai_clients: dict[tuple[str, str], AsyncOpenAI] = {}

    def _openai_client(self, base_url: str, api_key: str) -> AsyncOpenAI:
        found = self._openai_clients.get((base_url, api_key))
        if found is None:
            found = AsyncOpenAI(
                # OpenAI-compatible servers usually want no key, but the SDK insists on one.
                api_key=api_key or "not-needed",
                base_url=base_url,
                timeout=self.settings.provider_timeout_seconds,
                max_retries=1,
            )
            self._openai_clients[(base_url, api_key)] = found
        return found

    async def aclose(self) -> None:
        for client in self._openai_clients.values():
            await client.close()
        self._openai_clients.clear()

    def availability(self, provider: VoiceProvider, config: VoiceConfig) -> Availability:
        match provider:
            case VoiceProvider.OPENAI:
                missing = "no key: set llm.api_key.openai in the dashboard or OPENAI_API_KEY"
                return Availability(bool(config.openai_api_key), None if config.openai_api_key else missing)
            case VoiceProvider.OPENAI_COMPATIBLE:
                missing = "no URL: set voice.openai_compatible_url or VOICE_OPENAI_COMPATIBLE_URL"
                url = config.openai_compatible_url
                return Availability(bool(url), None if url else missing)
            case VoiceProvider.DEEPGRAM:
                missing = "no key: set voice.deepgram_api_key in the dashboard or DEEPGRAM_API_KEY"
                key = config.deepgram_api_key
                return Availability(bool(key), None if key else missing)
            case VoiceProvider.ELEVENLABS:
                missing = "no key: set voice.elevenlabs_api_key in the dashboard or ELEVENLABS_API_KEY"
                key = config.elevenlabs_api_key
                return Availability(bool(key), None if key else missing)
            case VoiceProvider.OFFLINE:
                return Availability(True, self.offline.problem())

    def statuses(self, config: VoiceConfig) -> list[VoiceProviderStatus]:
        report = []
        for provider in AUTO_ORDER:
            found = self.availability(provider, config)
            report.append(
                VoiceProviderStatus(
                    provider=provider,
                    speech_to_text=True,
                    text_to_speech=True,
                    configured=found.configured,
                    usable=found.reason is None,
                    reason=found.reason,
                )
            )
        return report

    def resolve(self, choice: ProviderChoice | VoiceProvider, config: VoiceConfig) -> VoiceProvider | None:
        """The provider `choice` names if usable, the first usable one for `auto`; None when there is none."""
        if choice == ProviderChoice.AUTO:
            for provider in AUTO_ORDER:
                if self.availability(provider, config).reason is None:
                    return provider
            return None
        provider = VoiceProvider(choice.value)
        return provider if self.availability(provider, config).reason is None else None

    def _require(self, provider: VoiceProvider, config: VoiceConfig) -> None:
        reason = self.availability(provider, config).reason
        if reason is not None:
            raise NotConfigured(f"voice provider {provider} is not usable: {reason}")

    def _build(
        self, provider: VoiceProvider, config: VoiceConfig
    ) -> SpeechToText | TextToSpeech | OfflineVoice:
        self._require(provider, config)
        timeout = self.settings.provider_timeout_seconds
        match provider:
            case VoiceProvider.OPENAI | VoiceProvider.OPENAI_COMPATIBLE:
                is_openai = provider is VoiceProvider.OPENAI
                client = self._openai_client(
                    self.settings.voice_openai_base_url if is_openai else config.openai_compatible_url,
                    config.openai_api_key if is_openai else "",
                )
                return OpenAIAudio(
                    provider,
                    client=client,
                    http=self.http,
                    stt_model=config.stt_model,
                    tts_model=config.tts_model,
                )
            case VoiceProvider.DEEPGRAM:
                return DeepgramAudio(
                    api_key=config.deepgram_api_key,
                    base_url=self.settings.voice_deepgram_base_url,
                    http=self.http,
                    stt_model=config.stt_model,
                    timeout=timeout,
                )
            case VoiceProvider.ELEVENLABS:
                return ElevenLabsAudio(
                    api_key=config.elevenlabs_api_key,
                    base_url=self.settings.voice_elevenlabs_base_url,
                    http=self.http,
                    stt_model=config.stt_model,
                    tts_model=config.tts_model,
                    timeout=timeout,
                )
            case VoiceProvider.OFFLINE:
                return self.offline

    def listener(self, provider: VoiceProvider, config: VoiceConfig) -> SpeechToText:
        built = self._build(provider, config)
        assert isinstance(built, OpenAIAudio | DeepgramAudio | ElevenLabsAudio | OfflineVoice)
        return built

    def speaker(self, provider: VoiceProvider, config: VoiceConfig) -> TextToSpeech:
        built = self._build(provider, config)
        assert isinstance(built, OpenAIAudio | DeepgramAudio | ElevenLabsAudio | OfflineVoice)
        return built
