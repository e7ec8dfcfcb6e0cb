"""`create_service_app`: the FastAPI app every service starts from (errors, request ids, CORS, health, docs)."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from nova_common.config import NovaSettings
from nova_common.errors import install_error_handlers
from nova_common.health import HealthRegistry, health_router
from nova_common.logging import REQUEST_ID_HEADER
from nova_common.middleware import RequestIdMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    settings: NovaSettings,
    *,
    title: str,
    description: str,
    version: str,
    lifespan: Lifespan,
) -> FastAPI:
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.health = HealthRegistry(service=settings.service_name, version=version)
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[REQUEST_ID_HEADER, "X-Session-Id", "Retry-After"],
    )
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router())
    return app
