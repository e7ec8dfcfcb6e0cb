"""Memory tools: search long-term memory and save facts, through memory-service."""

from typing import Any

from nova_common.errors import UpstreamUnavailable
from nova_contracts.memory import FactUpsert, MemorySearchRequest
from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg


def _owner(ctx: ToolContext) -> str:
    """Whose memories the turn reads and writes (set by the turn runner); without one, none: no owner would
    mean every owner's memories."""
    owner = ctx.extra.get("memory_owner")
    if not isinstance(owner, str) or not owner:
        raise ToolError("memory tools are unavailable here: the turn has no memory owner")
    return owner


async def search_memory(args: dict[str, Any], ctx: ToolContext) -> str:
    request = MemorySearchRequest(
        query=string_arg(args, "query")[:10_000],
        limit=int_arg(args, "limit", 5, low=1, high=50),
        agent_id=str(ctx.agent.id) if args.get("only_mine") else None,
        owner=_owner(ctx),
    )
    try:
        result = await ctx.memory.search(request)
    except UpstreamUnavailable as exc:
        raise ToolError(exc.detail) from exc
    if not result.hits:
        return f"nothing in memory matches {request.query!r}"
    return "\n".join(f"[{h.memory.tier.value}] {h.memory.content} (score {h.score:.2f})" for h in result.hits)


async def save_fact(args: dict[str, Any], ctx: ToolContext) -> str:
    fact = FactUpsert(
        project_id=string_arg(args, "project", "nova")[:200],
        category=string_arg(args, "category")[:200],
        key=string_arg(args, "key")[:200],
        content=string_arg(args, "content")[:50_000],
        agent_id=str(ctx.agent.id),
        owner=_owner(ctx),
    )
    try:
        result = await ctx.memory.upsert_fact(fact)
    except UpstreamUnavailable as exc:
        raise ToolError(exc.detail) from exc
    verb = "saved" if result.created else "updated"
    return f"{verb} fact {fact.category}/{fact.key}"


MEMORY_TOOLS = [
    Tool(
        "search_memory",
        "memory",
        "Search long-term memory (past conversations, facts, procedures) for a query.",
        schema(
            {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1},
                "only_mine": {"type": "boolean", "description": "only this agent's memories"},
            },
            ["query"],
        ),
        search_memory,
    ),
    Tool(
        "save_fact",
        "memory",
        "Remember a fact as category/key = content; saving the same category and key again replaces it.",
        schema(
            {
                "category": {"type": "string"},
                "key": {"type": "string"},
                "content": {"type": "string"},
                "project": {"type": "string"},
            },
            ["category", "key", "content"],
        ),
        save_fact,
    ),
]
