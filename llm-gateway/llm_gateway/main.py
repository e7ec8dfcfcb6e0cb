"""Nova LLM Gateway: `create_app()` and the lifespan that owns the service's resources."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from llm_gateway import __doc__ as description
from llm_gateway import __version__
from llm_gateway.api import health, internal, openai
from llm_gateway.api.chat_fast_path import CHAT_ROUTES
from llm_gateway.completions.cache import ResponseCache
from llm_gateway.completions.service import CompletionService
from llm_gateway.config import Settings, get_settings
from llm_gateway.embeddings.cloud import CloudEmbedder
from llm_gateway.embeddings.service import EmbeddingEngine
from llm_gateway.providers.local import LocalSlot
from llm_gateway.providers.pricing import PriceMap
from llm_gateway.providers.registry import ProviderRegistry
from llm_gateway.providers.transports import LiteLLMTransport, OpenAICompatibleTransport
from llm_gateway.routing.plan import Planner
from llm_gateway.runtime_config import RuntimeConfigStore
from llm_gateway.services import GatewayServices
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.stats import LocalInferenceStats
from nova_common.app import create_service_app
from nova_common.credentials import RemoteKeyStore
from nova_common.fast_path import install_fast_path
from nova_common.health import health_router
from nova_common.ratelimit import SlidingWindowLimiter
from nova_common.resources import open_resources

V1_BODY_LIMIT_BYTES = 20 * 1024 * 1024


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with open_resources(app, peers=("orchestrator",)) as resources:
        redis = resources.redis
        timeouts = {
            "connect_timeout": settings.provider_connect_timeout,
            "read_timeout": settings.provider_read_timeout,
        }
        direct = OpenAICompatibleTransport(**timeouts)
        via_litellm = LiteLLMTransport(**timeouts)
        probe_http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
        prices = PriceMap()
        config = RuntimeConfigStore(redis, settings)
        registry = ProviderRegistry(
            settings,
            LocalSlot(config, probe_http, context_window=settings.local_context_window),
            prices,
            config,
        )
        usage = UsageRecorder(redis, settings.usage_stream, settings.usage_stream_maxlen)
        limiter = SlidingWindowLimiter(redis)
        cache = ResponseCache(redis, settings.response_cache_ttl)
        stats = LocalInferenceStats()
        completions = CompletionService(
            Planner(registry, config),
            direct=direct,
            litellm=via_litellm,
            limiter=limiter,
            cache=cache,
            usage=usage,
            stats=stats,
            prices=prices,
            quota_window_seconds=settings.quota_window_seconds,
            probe_timeout=settings.health_test_timeout,
            use_litellm_for_openai=settings.openai_compatible_transport == "litellm",
        )
        embeddings = EmbeddingEngine(
            redis,
            usage,
            default_model=settings.default_embed_model,
            cache_ttl=settings.embed_cache_ttl,
            cloud=CloudEmbedder(registry, via_litellm),
        )
        app.state.api_key_store = RemoteKeyStore(
            resources.peers["orchestrator"], cache_seconds=settings.api_key_cache_seconds
        )
        app.state.services = GatewayServices(
            completions=completions,
            embeddings=embeddings,
            registry=registry,
            config=config,
            limiter=limiter,
            cache=cache,
            usage=usage,
            stats=stats,
        )
        app.state.health.add_details("local_inflight", lambda: stats.inflight)

        async def local_model_check() -> None:
            status = await registry.local.status()
            if not status.available:
                raise RuntimeError(status.reason or "unavailable")

        # Reported, not required: cloud providers can serve while the local slot is down or switching.
        app.state.health.add_check("local-model", local_model_check, required=False)
        usage.start()
        embeddings.warm_up()
        # The price map is a few MB of JSON: parse it off the event loop, before the first request needs it.
        warm_prices = asyncio.create_task(asyncio.to_thread(prices.load))
        try:
            yield
        finally:
            warm_prices.cancel()
            await usage.stop()
            embeddings.close()
            await direct.aclose()
            await probe_http.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        title="Nova LLM Gateway",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
        # Images (data: URLs) and long contexts: the kit's 1 MiB default would refuse ordinary /v1 requests.
        body_limits={"/v1/": V1_BODY_LIMIT_BYTES},
    )
    # The chat routes skip FastAPI's router; the kit's middleware still sees them, the routes stay for the docs.
    install_fast_path(app, CHAT_ROUTES)
    # The OpenAI-compatible routes first: routes are matched in order, and these take the most traffic.
    app.include_router(openai.router)
    app.include_router(internal.router)
    app.include_router(health.router)
    # /v1/health/{live,ready,providers}: the same probes for clients that only reach /v1 (through a proxy).
    app.include_router(health_router(), prefix="/v1")
    app.include_router(health.v1_router)
    return app
