"""Nova Chat Bridge: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI

from chat_bridge import __doc__ as description
from chat_bridge import __version__
from chat_bridge.adapters.manager import AdapterManager
from chat_bridge.clients.orchestrator import BridgeOrchestratorClient
from chat_bridge.clients.voice import BridgeVoiceClient
from chat_bridge.config import Settings, get_settings
from chat_bridge.conversations import Conversations
from chat_bridge.platform_settings import PlatformSettings
from chat_bridge.routes import router
from chat_bridge.sessions import BridgeSessionStore
from chat_bridge.voice_notes import VoiceNotes
from nova_common.app import create_service_app
from nova_common.redis import create_redis
from nova_common.resources import open_resources


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # voice-service is opt-in (profile `voice`): reported on readiness, never required.
    async with open_resources(app, peers=("orchestrator", "voice-service")) as resources:
        orchestrator = BridgeOrchestratorClient(
            resources.peers["orchestrator"],
            api_key=settings.nova_api_key.get_secret_value(),
        )
        # DB 1 holds the orchestrator's mirror of platform_config (`nova:config:*`), secrets sealed.
        config_redis = create_redis("llm-gateway", settings.redis_url)
        platform_settings = PlatformSettings(
            settings_factory=app.state.settings_factory,
            config_redis=config_redis,
            service_token=settings.service_token.get_secret_value() if settings.service_token_usable else "",
            cache_seconds=settings.platform_config_cache_seconds,
        )
        sessions = BridgeSessionStore(resources.redis, ttl_seconds=settings.session_ttl_seconds)
        conversations = Conversations(
            sessions=sessions,
            orchestrator=orchestrator,
            agent_name=settings.default_agent_name,
            model=settings.default_model,
            agent_tools=settings.bridge_agent_tools,
            refusal_repeat_seconds=settings.refusal_repeat_seconds,
        )
        voice = VoiceNotes(
            client=BridgeVoiceClient(resources.peers["voice-service"]),
            sessions=sessions,
            max_clip_bytes=settings.voice_max_clip_bytes,
        )
        manager = AdapterManager(
            platform_settings=platform_settings,
            conversations=conversations,
            voice=voice,
            telegram_poll_timeout=settings.telegram_poll_timeout_seconds,
        )
        app.state.adapters = manager
        app.state.health.add_details("adapters", lambda: manager.status().model_dump(mode="json")["adapters"])
        await manager.start()
        try:
            yield
        finally:
            await manager.stop()
            await voice.aclose()
            await config_redis.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    # On reload the settings are read again (a changed .env), unless a test handed its own.
    factory: Callable[[], Settings] = (lambda: settings) if settings is not None else Settings
    resolved = settings or get_settings()
    # Telegram posts its updates with the public webhook URL's host: answer to it whatever ALLOWED_HOSTS says.
    webhook_host = urlsplit(resolved.telegram_webhook_url).hostname
    app = create_service_app(
        resolved,
        title="Nova Chat Bridge",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
        extra_allowed_hosts=[webhook_host] if webhook_host else [],
    )
    app.state.settings_factory = factory
    app.include_router(router)
    return app
