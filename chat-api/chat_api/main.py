"""Nova Chat API: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI

from chat_api import __doc__ as description
from chat_api import __version__
from chat_api.callers import CallerAuthenticator
from chat_api.clients.orchestrator import ChatOrchestratorClient
from chat_api.config import Settings, get_settings
from chat_api.connections import ConnectionRegistry
from chat_api.delivery import DeliveryService
from chat_api.origins import OriginPolicy
from chat_api.sessions import SessionStore
from chat_api.ui import router as ui_router
from chat_api.ws import ChatRuntime
from chat_api.ws import router as ws_router
from nova_common.app import create_service_app
from nova_common.credentials import RemoteKeyStore
from nova_common.http import ServiceClient
from nova_common.redis import redis_url_for
from nova_common.resources import open_resources


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with open_resources(app, peers=("orchestrator",)):
        # One orchestrator stream per answering session: the kit's client pools only 100 connections.
        orchestrator_http = ServiceClient(
            "orchestrator",
            settings.orchestrator_url,
            service_token=settings.service_token.get_secret_value(),
            transport=httpx.AsyncHTTPTransport(
                limits=httpx.Limits(
                    max_connections=settings.ws_max_connections + 20, max_keepalive_connections=100
                )
            ),
        )
        client = ChatOrchestratorClient(orchestrator_http)
        # The kit's client fails a command outright once 100 are in flight (redis-py's default pool); with
        # hundreds of sessions answering at once, commands should wait for a connection instead.
        pool = aioredis.BlockingConnectionPool.from_url(
            redis_url_for(settings.service_name, settings.redis_url),
            max_connections=settings.redis_max_connections,
            timeout=20,
            decode_responses=True,
            socket_connect_timeout=3,
            socket_timeout=10,
            health_check_interval=30,
        )
        redis = aioredis.Redis(connection_pool=pool)
        registry = ConnectionRegistry(
            max_connections=settings.ws_max_connections, max_per_ip=settings.ws_max_per_ip
        )
        sessions = SessionStore(
            redis, ttl_seconds=settings.session_ttl_seconds, max_history=settings.ws_max_history
        )
        delivery = DeliveryService(
            redis=redis, sessions=sessions, registry=registry, client=client, settings=settings
        )
        app.state.chat = ChatRuntime(
            settings=settings,
            registry=registry,
            sessions=sessions,
            delivery=delivery,
            callers=CallerAuthenticator(
                RemoteKeyStore(orchestrator_http, cache_seconds=settings.key_validation_cache_seconds),
                app.state.admin_secrets,
            ),
            origins=OriginPolicy(settings),
        )
        app.state.health.add_details(
            "websockets",
            lambda: {
                "connections": registry.total,
                "sessions": len(registry.by_session),
                "orchestrator_reachable": delivery.gate.is_up,
            },
        )
        delivery.start()
        try:
            yield
        finally:
            await delivery.aclose()
            await orchestrator_http.aclose()
            await redis.aclose()
            await pool.disconnect()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        title="Nova Chat API",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
    app.include_router(ws_router)
    app.include_router(ui_router)
    return app
