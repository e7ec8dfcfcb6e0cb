"""Privilege follows the caller: what an agent of a caller without the admin secret may be given.

Only the admin sets an agent's sandbox tier, a tool list beyond the default policy, or MCP tools. Agents of
API keys (and of the anonymous local caller) get the default policy from platform config, and every turn a
caller without the admin secret runs, or that runs an agent such a caller owns, is held under that policy
again, so an agent configured before these rules, or a shared agent, cannot lend a key more than it has.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from nova_common.errors import Conflict, Forbidden
from nova_contracts.orchestrator import AgentConfig, SandboxTier
from orchestrator.platform_config.service import PlatformConfigService
from orchestrator.tools.sandbox import TIER_ORDER
from orchestrator.tools.service import BUILTIN_TOOLS

# Without `agents.key_default_tools` a key's agents get these: files in their sandbox, memory, the web and
# delegation to the key's own agents. Never the shell or git: both run processes.
SAFE_KEY_TOOLS: tuple[str, ...] = (
    "list_dir",
    "read_file",
    "write_file",
    "search_files",
    "search_memory",
    "save_fact",
    "web_fetch",
    "web_search",  # offered in research turns only
    "list_agents",
    "create_task",
    "create_goal",
)
# An empty `tools` list means "every tool", so a policy that leaves nothing is written as a name no tool has.
NO_TOOLS = "none-allowed"
SANDBOX_KEY = "sandbox"


def wider(a: SandboxTier, b: SandboxTier) -> bool:
    return TIER_ORDER.index(a) > TIER_ORDER.index(b)


def expand(entries: Iterable[str]) -> set[str]:
    """Tool names of a `tools` list, whose entries may also name a whole built-in group."""
    names: set[str] = set()
    for entry in entries:
        group = [t.name for t in BUILTIN_TOOLS.values() if t.group == entry]
        names.update(group or [entry])
    return names


def narrow_tools(tools: list[str], allowed: frozenset[str]) -> list[str]:
    """An agent's tool list cut to `allowed` (an empty list means every tool, so all of `allowed`)."""
    kept = sorted(allowed) if not tools else sorted(expand(tools) & allowed)
    return kept or [NO_TOOLS]


@dataclass(frozen=True)
class AgentPolicy:
    """The most an agent of a caller without the admin secret gets."""

    tier: SandboxTier
    tools: frozenset[str]

    def narrow_tools(self, tools: list[str]) -> list[str]:
        return narrow_tools(tools, self.tools)

    def check(self, config: AgentConfig) -> AgentConfig:
        """A caller's agent config within this policy (tools default to the policy's); 403 naming the field
        that needs the admin otherwise."""
        asked = config.metadata.get(SANDBOX_KEY)
        if asked is not None and (asked not in set(SandboxTier) or wider(SandboxTier(asked), self.tier)):
            raise Forbidden(
                f"config.metadata.sandbox: only the admin can give an agent the {asked!r} sandbox tier; "
                f"API keys' agents run in {self.tier.value} or narrower"
            )
        beyond = sorted(expand(config.tools) - self.tools)
        if beyond:
            raise Forbidden(
                f"config.tools: {', '.join(beyond)} need the admin; an API key's agents may use "
                f"{', '.join(sorted(self.tools)) or 'no tools'}"
            )
        return config if config.tools else config.model_copy(update={"tools": self.narrow_tools([])})


async def key_policy(config: PlatformConfigService) -> AgentPolicy:
    tier = await config.value("agents.key_default_tier")
    tools = await config.value("agents.key_default_tools")
    return AgentPolicy(
        tier=SandboxTier(tier) if tier in set(SandboxTier) else SandboxTier.WORKSPACE,
        tools=frozenset(SAFE_KEY_TOOLS if tools is None else expand(tools)),
    )


async def check_agent_quota(config: PlatformConfigService, owned: int) -> None:
    limit = int(await config.value("limits.agents_per_key"))
    if owned >= limit:
        raise Conflict(
            f"this API key already has {owned} agents, the limit (limits.agents_per_key) is {limit}; "
            "delete one first"
        )
