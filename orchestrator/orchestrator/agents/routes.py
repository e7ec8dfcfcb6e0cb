"""Agent lifecycle routes (API key, admin or service): each caller creates, reads, changes and deletes its own
agents; the admin sees all of them."""

from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from nova_contracts.orchestrator import AgentInfo, CreateAgentRequest, UpdateAgentRequest
from orchestrator.deps import AgentServiceDep, CallerTenant, Page

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.post("", response_model=AgentInfo, status_code=status.HTTP_201_CREATED)
async def create_agent(body: CreateAgentRequest, tenant: CallerTenant, agents: AgentServiceDep) -> AgentInfo:
    """Create an agent (idle until it gets a task); without the admin secret, within the default policy."""
    return await agents.create(body, tenant=tenant)


@router.get("", response_model=list[AgentInfo])
async def list_agents(tenant: CallerTenant, agents: AgentServiceDep, page: Page) -> list[AgentInfo]:
    """The caller's agents and the primary agent (the admin's: every agent), oldest first."""
    return await agents.list(tenant=tenant, limit=page.limit, offset=page.offset)


@router.get("/{agent_id}", response_model=AgentInfo)
async def get_agent(agent_id: UUID, tenant: CallerTenant, agents: AgentServiceDep) -> AgentInfo:
    """One agent with its config and status."""
    return await agents.get(agent_id, tenant=tenant)


@router.patch("/{agent_id}/config", response_model=AgentInfo)
async def update_agent_config(
    agent_id: UUID, body: UpdateAgentRequest, tenant: CallerTenant, agents: AgentServiceDep
) -> AgentInfo:
    """Change an agent's model, prompt, tools or limits; only the fields sent change."""
    return await agents.update_config(agent_id, body, tenant=tenant)


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(
    agent_id: UUID,
    tenant: CallerTenant,
    agents: AgentServiceDep,
    soft: bool = Query(default=False, description="keep the agent, marked stopped"),
) -> Response:
    """Delete an agent (the primary agent cannot be deleted)."""
    await agents.delete(agent_id, tenant=tenant, soft=soft)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
