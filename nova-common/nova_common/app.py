"""`create_service_app`: the FastAPI app every service starts from (errors, request ids, CORS, health, docs,
and the guards every service needs: Host allow-list, request-body cap)."""

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from nova_common.body_limit import BodySizeLimitMiddleware
from nova_common.config import NovaSettings
from nova_common.errors import install_error_handlers
from nova_common.health import HealthRegistry, health_router
from nova_common.hosts import HostCheckMiddleware
from nova_common.logging import REQUEST_ID_HEADER
from nova_common.middleware import ForwardedClientMiddleware, RequestIdMiddleware

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    settings: NovaSettings,
    *,
    title: str,
    description: str,
    version: str,
    lifespan: Lifespan,
    body_limits: Mapping[str, int] | None = None,
    extra_allowed_hosts: Iterable[str] = (),
) -> FastAPI:
    """`body_limits` maps a path prefix to the largest body its routes accept (default MAX_REQUEST_BODY_BYTES).
    `extra_allowed_hosts` adds names this service must answer to whatever ALLOWED_HOSTS says (the host of a
    webhook URL it registered with a chat platform, say)."""
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
    app.add_middleware(
        BodySizeLimitMiddleware, default_limit=settings.max_request_body_bytes, route_limits=body_limits
    )
    app.add_middleware(HostCheckMiddleware, allowed=[*settings.allowed_host_patterns, *extra_allowed_hosts])
    if settings.trusted_proxy_list:
        app.add_middleware(ForwardedClientMiddleware, trusted_proxies=settings.trusted_proxy_list)
    # Added last, so it runs first: every answer above, refusals included, carries the request id.
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router())
    return app
