"""Agent lifecycle: create, update, delete, status during turns, crash recovery and the single primary agent.

Keys are tenants: a caller sees and changes only its own agents (the admin sees all), plus the primary agent,
which every caller may talk to but only the admin changes. Callers without the admin secret configure agents
within the default policy (`agents/policy.py`).
"""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

import structlog

from nova_common.errors import Conflict, Forbidden, NotFound
from nova_contracts.orchestrator import (
    AgentConfig,
    AgentInfo,
    AgentStatus,
    CreateAgentRequest,
    UpdateAgentRequest,
)
from orchestrator.agents.policy import AgentPolicy, check_agent_quota, key_policy
from orchestrator.agents.repository import AgentRepository
from orchestrator.keys.tenant import Tenant
from orchestrator.platform_config.service import PlatformConfigService

log = structlog.get_logger("orchestrator.agents")

PRIMARY_SYSTEM_PROMPT = (
    "You are the user's primary assistant. Use your tools when they help, and say what you did."
)


NO_PRIMARY = "no primary agent: the orchestrator creates one at startup"


def _visible(agent_id: UUID, agent: AgentInfo | None, tenant: Tenant) -> AgentInfo:
    # Another tenant's agent is "not found": its existence is not revealed.
    if agent is None or not (agent.primary or tenant.may_see(agent.owner)):
        raise NotFound(f"agent {agent_id} not found")
    return agent


class AgentService:
    def __init__(self, repository: AgentRepository, config: PlatformConfigService) -> None:
        self.repository = repository
        self.config = config

    async def policy(self) -> AgentPolicy:
        return await key_policy(self.config)

    async def create(
        self, request: CreateAgentRequest, *, tenant: Tenant, primary: bool = False
    ) -> AgentInfo:
        config = request.config
        if not tenant.privileged:
            config = (await self.policy()).check(config)
        agent = AgentInfo(
            id=uuid4(),
            config=config,
            status=AgentStatus.IDLE,
            created_at=datetime.now(UTC),
            primary=primary,
            owner=tenant.owner,
        )
        if tenant.sees_everything:
            await self.repository.save(agent)
        else:
            await self._save_within_quota(agent)
        log.info(
            "agent_created",
            agent_id=str(agent.id),
            name=agent.config.name,
            primary=primary,
            owner=agent.owner,
        )
        return agent

    async def _save_within_quota(self, agent: AgentInfo) -> None:
        """Count and save under a per-owner lock, so parallel creates cannot pass the limit together."""
        lock = f"agents:create:{agent.owner}"
        for _ in range(50):
            if await self.repository.acquire_lock(lock, ttl_ms=5_000):
                break
            await asyncio.sleep(0.1)
        else:
            raise Conflict("another agent is being created for this API key; try again")
        try:
            owned = [a for a in await self.repository.list() if a.owner == agent.owner]
            await check_agent_quota(self.config, len(owned))
            await self.repository.save(agent)
        finally:
            await self.repository.release_lock(lock)

    async def list(self, *, tenant: Tenant, limit: int | None = None, offset: int = 0) -> list[AgentInfo]:
        """The agents `tenant` sees, oldest first."""
        visible = [a for a in await self.repository.list() if a.primary or tenant.may_see(a.owner)]
        return visible[offset : None if limit is None else offset + limit]

    async def get(self, agent_id: UUID, *, tenant: Tenant) -> AgentInfo:
        return _visible(agent_id, await self.repository.get(agent_id), tenant)

    async def get_and_lock(
        self, agent_id: UUID | None, *, tenant: Tenant, lock: str, token: str, seconds: int
    ) -> tuple[AgentInfo, bool]:
        """The agent a turn talks to (`None`: the primary), read in the same Redis round trip as the turn's
        lock is taken (`SET lock token NX EX seconds`); whether the lock was taken. A 404 leaves the lock
        taken: the caller releases it."""
        agent, locked = await self.repository.get_and_set(agent_id, lock, token, seconds=seconds)
        if agent_id is None:
            if agent is None:
                raise NotFound(NO_PRIMARY)
            return agent, locked
        return _visible(agent_id, agent, tenant), locked

    async def _changeable(self, agent_id: UUID, tenant: Tenant) -> AgentInfo:
        agent = await self.get(agent_id, tenant=tenant)
        if not tenant.may_see(agent.owner):
            raise Forbidden(f"agent {agent.config.name} is the admin's; only the admin changes it")
        return agent

    async def update_config(self, agent_id: UUID, patch: UpdateAgentRequest, *, tenant: Tenant) -> AgentInfo:
        agent = await self._changeable(agent_id, tenant)
        config = agent.config.updated(patch)
        if not tenant.privileged:
            # Only what this patch sends is checked: tools the admin granted earlier stay.
            policy = await self.policy()
            sent = patch.model_fields_set
            checked = policy.check(
                AgentConfig(
                    name=config.name,
                    tools=config.tools if "tools" in sent else [],
                    metadata=config.metadata if "metadata" in sent else {},
                )
            )
            if "tools" in sent:
                config = config.model_copy(update={"tools": checked.tools})
        await self.repository.set_config(agent_id, config)
        return agent.model_copy(update={"config": config})

    async def delete(self, agent_id: UUID, *, tenant: Tenant, soft: bool = False) -> None:
        agent = await self.get(agent_id, tenant=tenant)
        if agent.primary:
            raise Conflict("the primary agent cannot be deleted; it is what chat talks to")
        if soft:
            await self.repository.set_status(agent_id, AgentStatus.STOPPED)
        else:
            await self.repository.delete(agent_id)

    async def mark(self, agent_id: UUID, status: AgentStatus) -> None:
        await self.repository.set_status(agent_id, status, active=True)

    async def primary(self) -> AgentInfo:
        agent = await self.repository.primary()
        if agent is not None:
            return agent
        raise NotFound(NO_PRIMARY)

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
                    tenant=Tenant("admin", privileged=True),
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
