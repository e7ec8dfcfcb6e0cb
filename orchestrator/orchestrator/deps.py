"""FastAPI dependency aliases: the services the lifespan built, and the caller check of agent routes."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader

from nova_common.auth import SERVICE_HEADER, Principal, require_api_key, require_service
from nova_common.credentials import KeyRateLimiter
from orchestrator.agents.service import AgentService
from orchestrator.agents.turn import AgentRunner
from orchestrator.chat.service import ChatService
from orchestrator.goals.service import GoalService
from orchestrator.keys.service import ApiKeyService
from orchestrator.keys.tenant import Tenant
from orchestrator.keys.usage_tracker import KeyUsageTracker
from orchestrator.mcp_servers.service import McpServerService
from orchestrator.openai_compat.service import OpenAICompatService
from orchestrator.platform_config.service import PlatformConfigService
from orchestrator.tasks.service import TaskService
from orchestrator.tools.service import ToolService
from orchestrator.usage.service import UsageService


@dataclass
class Services:
    """Everything the lifespan wires together; routes reach it through the aliases below."""

    agents: AgentService
    keys: ApiKeyService
    limiter: KeyRateLimiter
    key_usage: KeyUsageTracker
    config: PlatformConfigService
    tools: ToolService
    mcp: McpServerService
    runner: AgentRunner
    tasks: TaskService
    chat: ChatService
    usage: UsageService
    openai: OpenAICompatService
    goals: GoalService


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

# Declared for the OpenAPI document; the checks read the headers themselves.
_api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_service_scheme = APIKeyHeader(name=SERVICE_HEADER, auto_error=False, scheme_name="ServiceToken")


async def require_caller(
    request: Request,
    services: ServicesDep,
    _key: str | None = Depends(_api_key_scheme),
    _token: str | None = Depends(_service_scheme),
) -> Principal:
    """Agent and task routes: an `sk-nova` key (rate limited per key), the admin secret or a service token.

    With REQUIRE_AUTH=false a request without credentials passes as anonymous, as the kit decides.
    """
    if request.headers.get(SERVICE_HEADER) is not None:
        return await require_service(request)
    principal = await require_api_key(request)
    if principal.key is not None:
        await services.limiter.admit(principal.key)  # one window per key for the whole stack
        services.key_usage.touch(principal.key.id)
    return principal


CallerAuth = Annotated[Principal, Depends(require_caller)]


async def caller_tenant(principal: CallerAuth) -> Tenant:
    """Whose agents, tasks and conversations the caller sees: its own, or everything for the admin."""
    return Tenant.of(principal)


CallerTenant = Annotated[Tenant, Depends(caller_tenant)]

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="at most this many items")] = 50,
    offset: Annotated[int, Query(ge=0, description="skip this many items first")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Page = Annotated[PageParams, Depends(page_params)]


def _service(attribute: str) -> object:
    async def get(request: Request) -> object:  # async: no thread hop per request
        return getattr(request.app.state.services, attribute)

    return Depends(get)


AgentServiceDep = Annotated[AgentService, _service("agents")]
ApiKeyServiceDep = Annotated[ApiKeyService, _service("keys")]
PlatformConfigDep = Annotated[PlatformConfigService, _service("config")]
ToolServiceDep = Annotated[ToolService, _service("tools")]
McpServiceDep = Annotated[McpServerService, _service("mcp")]
TaskServiceDep = Annotated[TaskService, _service("tasks")]
ChatServiceDep = Annotated[ChatService, _service("chat")]
UsageServiceDep = Annotated[UsageService, _service("usage")]
OpenAICompatDep = Annotated[OpenAICompatService, _service("openai")]
GoalServiceDep = Annotated[GoalService, _service("goals")]
