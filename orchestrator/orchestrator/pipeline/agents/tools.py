"""Tools for pipeline agents: the chat tool loop's registry and sandbox, narrowed to one pod agent.

A pod agent is offered the built-in and MCP tools its `allowed_tools` names (tools, groups or `mcp__server`),
never all of them, and only those its pod's sandbox tier can run: the isolated tier has no file, shell or git
tools. `ToolService.execute` checks the same rules again at call time, so a tool the model names without
being offered it, or a path outside the tier's root, comes back as an error result the model can read.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nova_contracts.base import utc_now
from nova_contracts.llm import ToolCall, ToolDefinition
from nova_contracts.orchestrator import AgentConfig, AgentInfo, AgentStatus, PodAgentConfig, SandboxTier
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.keys.tenant import Tenant
from orchestrator.tools.registry import ToolContext
from orchestrator.tools.sandbox import Sandbox, Sandboxes, SandboxViolation
from orchestrator.tools.service import ToolOutcome, ToolService

# Pipeline agents are not chat agents; each gets a stable identity of its own (memory tools tag facts by it).
_AGENT_NAMESPACE = uuid.UUID("6f1d7c2e-3b5a-4c8e-9a41-2d7e5b9c0f13")


class StageToolsUnavailable(Exception):
    """The pod's sandbox tier cannot be opened (the host tier is off): the stage cannot run its tools."""


@dataclass(frozen=True)
class StageTools:
    """The tools one stage may call, with the context they run in."""

    service: ToolService
    context: ToolContext
    offered: list[ToolDefinition]

    @property
    def sandbox(self) -> Sandbox:
        return self.context.sandbox

    async def execute(self, call: ToolCall, *, time_limit: float) -> ToolOutcome:
        return await self.service.execute(call, self.context, time_limit=time_limit)


@dataclass(frozen=True)
class PipelineToolbox:
    """What the orchestrator's lifespan built for agent turns, shared with the pipeline's stages."""

    tools: ToolService
    memory: MemoryServiceClient
    sandboxes: Sandboxes
    shell_timeout: float
    web_fetch: Callable[[str, int], Awaitable[str]]
    # The agents a tenant sees (`AgentService.list`): a stage lists only those of its task's owner.
    list_agents: Callable[..., Awaitable[list[AgentInfo]]]
    service_health: Callable[[], Awaitable[dict[str, str]]]

    async def for_stage(
        self, agent: PodAgentConfig, *, pod_id: str | None, tier: SandboxTier, owner: Tenant
    ) -> StageTools:
        """The tools `agent` is offered under `tier`; raise `StageToolsUnavailable` if the tier is off."""
        try:
            sandbox = await self.sandboxes.get(tier)
        except (SandboxViolation, OSError) as exc:
            raise StageToolsUnavailable(f"sandbox tier {tier.value}: {exc}") from exc
        identity = AgentInfo(
            id=uuid.uuid5(_AGENT_NAMESPACE, f"{pod_id}:{agent.name}"),
            config=AgentConfig(
                name=f"pipeline {agent.name}"[:100], tools=list(agent.allowed_tools), memory_tiers=[]
            ),
            status=AgentStatus.RUNNING,
            created_at=utc_now(),
        )
        # Delegated: a stage never spawns a chat sub-task (`create_task`); it has no conversation to return to.
        offered = await self.tools.offered(identity, has_filesystem=sandbox.has_filesystem, delegated=True)
        context = ToolContext(
            agent=identity,
            sandbox=sandbox,
            memory=self.memory,
            shell_timeout=self.shell_timeout,
            web_fetch=self.web_fetch,
            list_agents=functools.partial(self.list_agents, tenant=owner),
            service_health=self.service_health,
            run_subtask=None,
            # Memory tools write and search as the task's owner (see `keys/tenant.py`).
            extra={"memory_owner": owner.owner},
        )
        return StageTools(self.tools, context, offered)
