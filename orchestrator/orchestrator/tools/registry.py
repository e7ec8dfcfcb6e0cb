"""What a built-in tool is: a name, a group (the permission unit), a JSON Schema and an async handler."""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nova_contracts.llm import ToolDefinition
from nova_contracts.orchestrator import AgentInfo
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.tools.sandbox import Sandbox

GROUPS: dict[str, str] = {
    "files": "List, read, write and search files in the sandbox",
    "shell": "Run shell commands in a jail over the sandbox (no network, resource limits); off until enabled",
    "git": "Git status, diff, log and commit in a sandboxed repository, jailed; off until enabled",
    "memory": "Search long-term memory and save facts",
    "platform": "List agents, delegate a task to another agent, check service health",
    "web": "Fetch public web pages, and search the web in research turns (private addresses are refused)",
}
# Groups whose tools touch the filesystem or run processes: not offered in the isolated sandbox.
FILESYSTEM_GROUPS = frozenset({"files", "shell", "git"})
# Groups that run processes stay off until the admin sets them true in `tool_permissions`; others default on.
OFF_UNTIL_ENABLED = frozenset({"shell", "git"})
# A research turn (the dashboard chat's toggle) is given these for that turn; web_search is offered only there.
RESEARCH_TOOLS = frozenset({"web_search", "web_fetch"})
RESEARCH_ONLY_TOOLS = frozenset({"web_search"})


class ToolError(Exception):
    """An expected tool failure; the message goes back to the model as the tool's result."""


@dataclass
class ToolContext:
    """Everything a tool call may use, built per agent turn."""

    agent: AgentInfo
    sandbox: Sandbox
    memory: MemoryServiceClient
    shell_timeout: float
    web_fetch: Callable[[str, int], Awaitable[str]]
    list_agents: Callable[[], Awaitable[list[AgentInfo]]]
    service_health: Callable[[], Awaitable[dict[str, str]]]
    # Set by the turn runner: runs a one-shot task on another agent (None inside a delegated task).
    run_subtask: Callable[[str, str], Awaitable[str]] | None = None
    # Set by the turn runner: creates a goal owned by the turn's caller and describes it (None: no goals here).
    create_goal: Callable[[dict[str, Any]], Awaitable[str]] | None = None
    # The configured search backend (None: web search is not configured), and whether this is a research turn.
    web_search: Callable[[str, int], Awaitable[str]] | None = None
    research: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    group: str
    description: str
    parameters: dict[str, Any]
    handler: ToolHandler

    @functools.cached_property
    def definition(self) -> ToolDefinition:
        """Built once: a tool's definition is offered on every turn, and never changes."""
        return ToolDefinition(name=self.name, description=self.description, parameters=self.parameters)


def schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or []}


def string_arg(args: dict[str, Any], name: str, default: str | None = None) -> str:
    value = args.get(name, default)
    if not isinstance(value, str) or (default is None and not value):
        raise ToolError(f"argument {name!r} must be a non-empty string")
    return value


def int_arg(args: dict[str, Any], name: str, default: int, *, low: int, high: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"argument {name!r} must be a number")
    return max(low, min(high, int(value)))
