"""Nova Voice Service: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI

from nova_common.app import create_service_app
from nova_common.credentials import KeyRateLimiter, RemoteKeyStore
from nova_common.redis import create_redis
from nova_common.resources import open_resources
from voice_service import __doc__ as description
from voice_service import __version__
from voice_service.config import Settings, get_settings
from voice_service.limits import SynthesisLimiter
from voice_service.providers.offline import OfflineVoice
from voice_service.providers.registry import VoiceProviderRegistry
from voice_service.routes import TRANSCRIBE_PATH, router
from voice_service.runtime_config import VoiceConfigStore
from voice_service.service import VoiceService
from voice_service.uploads import ENVELOPE_BYTES


def build_voice_service(
    settings: Settings, *, redis: aioredis.Redis, config_redis: aioredis.Redis, http: httpx.AsyncClient
) -> VoiceService:
    return VoiceService(
        settings,
        VoiceConfigStore(config_redis, settings),
        VoiceProviderRegistry(settings, http, OfflineVoice()),
        SynthesisLimiter(redis, per_minute=settings.voice_tts_requests_per_minute),
        # A key's own requests/minute is one window for the whole stack, kept in the shared config DB.
        KeyRateLimiter(config_redis),
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with open_resources(app, peers=("orchestrator",)) as resources:
        # Platform config (provider keys among it) is mirrored into DB 1, whatever this service's own DB.
        config_redis = create_redis("llm-gateway", settings.redis_url)
        http = httpx.AsyncClient(timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=5.0))
        app.state.api_key_store = RemoteKeyStore(
            resources.peers["orchestrator"], cache_seconds=settings.api_key_cache_seconds
        )
        app.state.voice = build_voice_service(
            settings, redis=resources.redis, config_redis=config_redis, http=http
        )
        try:
            yield
        finally:
            await app.state.voice.registry.aclose()
            await http.aclose()
            await config_redis.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        settings,
        title="Nova Voice Service",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
        # Audio uploads may be far larger than the kit's default body cap: the file plus its multipart envelope.
        body_limits={TRANSCRIBE_PATH: settings.voice_max_upload_bytes + ENVELOPE_BYTES},
    )
    app.include_router(router)
    return app
