"""Agent lifecycle routes: API key for reads, create and delete; admin to change a config."""

from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from nova_common.auth import AdminAuth
from nova_contracts.orchestrator import AgentInfo, CreateAgentRequest, UpdateAgentRequest
from orchestrator.deps import AgentServiceDep, CallerAuth

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.post("", response_model=AgentInfo, status_code=status.HTTP_201_CREATED)
async def create_agent(body: CreateAgentRequest, _: CallerAuth, agents: AgentServiceDep) -> AgentInfo:
    """Create an agent (idle until it gets a task)."""
    return await agents.create(body)


@router.get("", response_model=list[AgentInfo])
async def list_agents(_: CallerAuth, agents: AgentServiceDep) -> list[AgentInfo]:
    """Every agent, oldest first."""
    return await agents.list()


@router.get("/{agent_id}", response_model=AgentInfo)
async def get_agent(agent_id: UUID, _: CallerAuth, agents: AgentServiceDep) -> AgentInfo:
    """One agent with its config and status."""
    return await agents.get(agent_id)


@router.patch("/{agent_id}/config", response_model=AgentInfo)
async def update_agent_config(
    agent_id: UUID, body: UpdateAgentRequest, _: AdminAuth, agents: AgentServiceDep
) -> AgentInfo:
    """Change an agent's model, prompt, tools or limits; only the fields sent change."""
    return await agents.update_config(agent_id, body)


@router.delete("/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(
    agent_id: UUID,
    _: CallerAuth,
    agents: AgentServiceDep,
    soft: bool = Query(default=False, description="keep the agent, marked stopped"),
) -> Response:
    """Delete an agent (the primary agent cannot be deleted)."""
    await agents.delete(agent_id, soft=soft)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
