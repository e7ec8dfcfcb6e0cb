"""Which tools an agent is offered, and running one call: permission, sandbox and timeout checks first."""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog

from nova_common.errors import BadRequest
from nova_contracts.llm import ToolCall, ToolDefinition
from nova_contracts.orchestrator import (
    AgentInfo,
    ConfigUpdate,
    ToolGroupInfo,
    ToolInfo,
    ToolPermissions,
    ToolPermissionsUpdate,
)
from orchestrator.mcp_servers.manager import McpManager
from orchestrator.platform_config.service import PlatformConfigService
from orchestrator.skills.service import SkillService, rule_refusal
from orchestrator.tools.files import FILE_TOOLS
from orchestrator.tools.git import GIT_TOOLS
from orchestrator.tools.memory_tools import MEMORY_TOOLS
from orchestrator.tools.platform_tools import PLATFORM_TOOLS
from orchestrator.tools.registry import (
    FILESYSTEM_GROUPS,
    GROUPS,
    OFF_UNTIL_ENABLED,
    RESEARCH_ONLY_TOOLS,
    Tool,
    ToolContext,
    ToolError,
)
from orchestrator.tools.sandbox import SandboxViolation
from orchestrator.tools.shell import SHELL_TOOLS
from orchestrator.tools.web import WEB_TOOLS
from orchestrator.tools.web_search import WEB_SEARCH_TOOLS

log = structlog.get_logger("orchestrator.tools")

BUILTIN_TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        *FILE_TOOLS,
        *SHELL_TOOLS,
        *GIT_TOOLS,
        *MEMORY_TOOLS,
        *PLATFORM_TOOLS,
        *WEB_TOOLS,
        *WEB_SEARCH_TOOLS,
    )
}
MCP_PREFIX = "mcp__"


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool
    duration_ms: int


def switched_off_message(group: str) -> str:
    return (
        f"the {group} tools are switched off; the administrator switches them on in the dashboard's tool "
        f'settings or with PATCH /api/v1/tool-permissions {{"groups": {{"{group}": true}}}}'
    )


def _allowed_by_agent(agent: AgentInfo, name: str, group: str) -> bool:
    """An agent's `tools` list, when not empty, names tools, groups or whole MCP servers (`mcp__git`)."""
    allow = agent.config.tools
    if not allow:
        return True
    server = name.split("__")[1] if name.startswith(MCP_PREFIX) else None
    return name in allow or group in allow or (server is not None and f"{MCP_PREFIX}{server}" in allow)


class ToolService:
    def __init__(
        self,
        config: PlatformConfigService,
        mcp: McpManager,
        *,
        timeout: float,
        max_output_chars: int,
        rules: SkillService | None = None,
    ) -> None:
        self.config = config
        self.mcp = mcp
        # The admin's rules: a call one of them matches is refused before any other check.
        self.rules = rules
        self.timeout = timeout
        self.max_output_chars = max_output_chars

    async def permissions(self) -> ToolPermissions:
        stored = await self.config.tool_permissions()
        return ToolPermissions(
            groups={group: stored.get(group, group not in OFF_UNTIL_ENABLED) is True for group in GROUPS}
        )

    async def set_permissions(self, update: ToolPermissionsUpdate) -> ToolPermissions:
        unknown = sorted(set(update.groups) - set(GROUPS))
        if unknown:
            raise BadRequest(f"unknown tool group(s): {', '.join(unknown)}; known: {', '.join(GROUPS)}")
        current = (await self.permissions()).groups
        await self.config.update("tool_permissions", ConfigUpdate(value={**current, **update.groups}))
        return await self.permissions()

    async def catalog(self) -> list[ToolGroupInfo]:
        enabled = (await self.permissions()).groups
        groups = [
            ToolGroupInfo(
                name=group,
                description=description,
                enabled=enabled[group],
                tools=[
                    ToolInfo(
                        name=t.name,
                        description=t.description,
                        group=group,
                        parameters=t.parameters,
                        enabled=enabled[group],
                    )
                    for t in BUILTIN_TOOLS.values()
                    if t.group == group
                ],
            )
            for group, description in GROUPS.items()
        ]
        for server, tools in sorted(self.mcp.tools_by_server().items()):
            groups.append(
                ToolGroupInfo(
                    name=f"mcp:{server}",
                    description=f"Tools of the MCP server {server}",
                    tools=[
                        ToolInfo(
                            name=t.name,
                            description=t.description,
                            group=f"mcp:{server}",
                            parameters=t.parameters,
                        )
                        for t in tools
                    ],
                )
            )
        return groups

    async def offered(
        self, agent: AgentInfo, *, has_filesystem: bool, delegated: bool, research: bool = False
    ) -> list[ToolDefinition]:
        enabled = (await self.permissions()).groups
        offered = [
            tool.definition
            for tool in BUILTIN_TOOLS.values()
            if enabled[tool.group]
            and (has_filesystem or tool.group not in FILESYSTEM_GROUPS)
            and not (delegated and tool.name == "create_task")
            and (research or tool.name not in RESEARCH_ONLY_TOOLS)
            and _allowed_by_agent(agent, tool.name, tool.group)
        ]
        offered += [
            ToolDefinition(name=t.name, description=t.description[:10_000], parameters=t.parameters)
            for t in self.mcp.tools()
            if _allowed_by_agent(agent, t.name, "mcp")
        ]
        return offered

    async def execute(
        self, call: ToolCall, ctx: ToolContext, *, time_limit: float | None = None
    ) -> ToolOutcome:
        """Run one call; every failure becomes an error result the model can read, never an exception."""
        started = time.monotonic()
        limit = min(self.timeout, time_limit) if time_limit is not None else self.timeout
        try:
            text, is_error = await asyncio.wait_for(self._dispatch(call, ctx), limit)
        except TimeoutError:
            text, is_error = f"{call.name} did not finish within {limit:.0f}s", True
        except (ToolError, SandboxViolation) as exc:
            text, is_error = str(exc), True
        except Exception as exc:
            log.exception("tool_failed", tool=call.name)
            text, is_error = f"{call.name} failed: {type(exc).__name__}: {exc}", True
        if len(text) > self.max_output_chars:
            text = text[: self.max_output_chars] + f"\n… ({len(text) - self.max_output_chars} characters cut)"
        duration_ms = int((time.monotonic() - started) * 1000)
        log.info(
            "tool_called",
            tool=call.name,
            agent_id=str(ctx.agent.id),
            is_error=is_error,
            duration_ms=duration_ms,
        )
        return ToolOutcome(text, is_error, duration_ms)

    async def _dispatch(self, call: ToolCall, ctx: ToolContext) -> tuple[str, bool]:
        if self.rules is not None and (rule := await self.rules.blocking_rule(call)) is not None:
            raise ToolError(rule_refusal(rule))
        if call.name.startswith(MCP_PREFIX):
            if not _allowed_by_agent(ctx.agent, call.name, "mcp"):
                raise ToolError(f"{call.name} is not among this agent's tools")
            result = await self.mcp.call(call.name, call.arguments)
            return result.text, result.is_error
        tool = BUILTIN_TOOLS.get(call.name)
        if tool is None:
            raise ToolError(f"there is no tool named {call.name}")
        # Checked again at call time: the model may name a tool it was not offered.
        if not (await self.permissions()).groups[tool.group]:
            raise ToolError(switched_off_message(tool.group))
        if not _allowed_by_agent(ctx.agent, tool.name, tool.group):
            raise ToolError(f"{call.name} is not among this agent's tools")
        if tool.name in RESEARCH_ONLY_TOOLS and not ctx.research:
            raise ToolError(f"{call.name} is offered in research turns only")
        if tool.group in FILESYSTEM_GROUPS:
            ctx.sandbox.require_root()
        arguments: dict[str, Any] = dict(call.arguments)
        return await tool.handler(arguments, ctx), False
