"""Dependency aliases, declared once: the gateway's services and the `/v1/*` caller check.

`services_of` and `check_v1_caller` are also plain functions, because `/v1/chat/completions` calls them
directly: on this 2-core machine each FastAPI dependency costs 25-50 µs per request to resolve, and the
gateway's budget for everything it adds to a model call is one millisecond (bench/gateway_overhead.py).
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from llm_gateway.completions.service import key_limit_reached
from llm_gateway.services import GatewayServices
from nova_common.auth import (
    API_KEY_PREFIX,
    SERVICE_HEADER,
    Principal,
    anonymous_allowed,
    extract_api_key,
    require_api_key,
    service_token_ok,
)
from nova_common.config import NovaSettings
from nova_common.credentials import RATE_WINDOW_SECONDS, key_window
from nova_common.errors import Unauthorized
from nova_common.ratelimit import Window
from nova_contracts.llm import CALLER_HEADER, CORTEX_CALLER


def services_of(request: Request) -> GatewayServices:
    services: GatewayServices = request.app.state.services
    return services


async def get_services(request: Request) -> GatewayServices:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a measurable cost on every request.
    return services_of(request)


Services = Annotated[GatewayServices, Depends(get_services)]


_api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
# What a route that calls `check_v1_caller` itself declares, so its OpenAPI entry matches the others.
V1_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}]}


def key_window_of(principal: Principal) -> Window | None:
    """The key's one requests-per-minute window for the whole stack (the orchestrator counts into it too)."""
    if principal.key is None or principal.key.rate_limit_rpm <= 0:
        return None
    return Window(key_window(principal.key.id), principal.key.rate_limit_rpm, RATE_WINDOW_SECONDS)


async def check_v1_caller(
    request: Request, services: GatewayServices, *, count_key: bool = True
) -> Principal:
    """`/v1/*`: an `sk-nova` key (unless REQUIRE_AUTH=false and the caller is local), held to its own
    requests-per-minute. Another Nova service may call with its service token instead (cortex does).

    `count_key=False` leaves the key's window to the caller: chat completions count it together with the
    provider's quota in one Redis round trip (`ChatCall.pending_key`)."""
    settings: NovaSettings = request.app.state.settings
    if request.headers.get(SERVICE_HEADER) is not None and settings.service_token_usable:
        if service_token_ok(request):
            return Principal(kind="service")
        raise Unauthorized("invalid service token")
    raw = extract_api_key(request)
    if (raw is None or not raw.startswith(API_KEY_PREFIX)) and anonymous_allowed(request):
        # OpenAI clients always send some key (the SDK refuses to start without one); with auth off a
        # placeholder like "sk-local" must not be refused as a malformed Nova key, but only a direct local
        # caller gets that far: through a proxy or by another Host name a real key is needed.
        return Principal(kind="anonymous")
    principal = await require_api_key(request)
    window = key_window_of(principal) if count_key else None
    if window is not None:
        admission = await services.limiter.admit_all([window])
        if not admission.admitted:
            raise key_limit_reached(window, admission.retry_after_seconds)
    return principal


async def require_v1_caller(
    request: Request, services: Services, _: str | None = Depends(_api_key_scheme)
) -> Principal:
    return await check_v1_caller(request, services)


V1Caller = Annotated[Principal, Depends(require_v1_caller)]


def is_cortex_call(request: Request, caller: Principal) -> bool:
    """`X-Nova-Caller: cortex` with the service token: the call is held to cortex's budget tier. The marker is
    ignored from anyone else (an admin or a key never claims to be cortex, and nothing restricts them)."""
    return caller.kind == "service" and request.headers.get(CALLER_HEADER) == CORTEX_CALLER
