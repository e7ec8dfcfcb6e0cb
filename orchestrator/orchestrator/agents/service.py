"""Agent lifecycle: create, update, delete, status during turns, crash recovery and the single primary agent."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

import structlog

from nova_common.errors import Conflict, NotFound
from nova_contracts.orchestrator import (
    AgentConfig,
    AgentInfo,
    AgentStatus,
    CreateAgentRequest,
    UpdateAgentRequest,
)
from orchestrator.agents.repository import AgentRepository

log = structlog.get_logger("orchestrator.agents")

PRIMARY_SYSTEM_PROMPT = (
    "You are the user's primary assistant. Use your tools when they help, and say what you did."
)


class AgentService:
    def __init__(self, repository: AgentRepository) -> None:
        self.repository = repository

    async def create(self, request: CreateAgentRequest, *, primary: bool = False) -> AgentInfo:
        agent = AgentInfo(
            id=uuid4(),
            config=request.config,
            status=AgentStatus.IDLE,
            created_at=datetime.now(UTC),
            primary=primary,
        )
        await self.repository.save(agent)
        log.info("agent_created", agent_id=str(agent.id), name=agent.config.name, primary=primary)
        return agent

    async def list(self) -> list[AgentInfo]:
        return await self.repository.list()

    async def get(self, agent_id: UUID) -> AgentInfo:
        agent = await self.repository.get(agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id} not found")
        return agent

    async def update_config(self, agent_id: UUID, patch: UpdateAgentRequest) -> AgentInfo:
        agent = await self.get(agent_id)
        config = agent.config.updated(patch)
        await self.repository.set_config(agent_id, config)
        return agent.model_copy(update={"config": config})

    async def delete(self, agent_id: UUID, *, soft: bool = False) -> None:
        agent = await self.get(agent_id)
        if agent.primary:
            raise Conflict("the primary agent cannot be deleted; it is what chat talks to")
        if soft:
            await self.repository.set_status(agent_id, AgentStatus.STOPPED)
        else:
            await self.repository.delete(agent_id)

    async def mark(self, agent_id: UUID, status: AgentStatus) -> None:
        await self.repository.set_status(agent_id, status, active=True)

    async def primary(self) -> AgentInfo:
        pointer = await self.repository.primary_pointer()
        if pointer:
            agent = await self.repository.get(UUID(pointer))
            if agent is not None:
                return agent
        raise NotFound("no primary agent: the orchestrator creates one at startup")

    async def recover_after_crash(self) -> int:
        """Agents left `running` by a process that died mid-turn are idle again."""
        recovered = 0
        for agent in await self.repository.list():
            if agent.status is AgentStatus.RUNNING:
                await self.repository.set_status(agent.id, AgentStatus.IDLE)
                recovered += 1
        if recovered:
            log.info("agents_recovered", count=recovered)
        return recovered

    async def ensure_primary(self, name: str) -> AgentInfo:
        """Exactly one primary agent: create it if missing, prune duplicates (oldest or pointed-to wins)."""
        # Two orchestrators starting together must not both create one.
        for _ in range(50):
            if await self.repository.acquire_lock("agents:primary", ttl_ms=10_000):
                break
            await asyncio.sleep(0.1)
        try:
            primaries = [a for a in await self.repository.list() if a.primary]
            pointer = await self.repository.primary_pointer()
            if not primaries:
                keeper = await self.create(
                    CreateAgentRequest(config=AgentConfig(name=name, system_prompt=PRIMARY_SYSTEM_PROMPT)),
                    primary=True,
                )
            else:
                keeper = next((a for a in primaries if str(a.id) == pointer), primaries[0])
                for duplicate in primaries:
                    if duplicate.id != keeper.id:
                        await self.repository.delete(duplicate.id)
                        log.warning("duplicate_primary_agent_pruned", agent_id=str(duplicate.id))
            await self.repository.set_primary_pointer(keeper.id)
            return keeper
        finally:
            await self.repository.release_lock("agents:primary")
