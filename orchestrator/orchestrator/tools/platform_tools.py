"""Platform tools: list agents, delegate a one-shot task to another agent, check service health."""

from typing import Any

from orchestrator.tools.registry import Tool, ToolContext, ToolError, schema, string_arg


async def list_agents(args: dict[str, Any], ctx: ToolContext) -> str:
    agents = await ctx.list_agents()
    return "\n".join(
        f"{a.config.name} (id {a.id}){' [primary]' if a.primary else ''}: {a.status.value}, "
        f"model {a.config.model or 'default'}"
        for a in agents
    )


async def create_task(args: dict[str, Any], ctx: ToolContext) -> str:
    if ctx.run_subtask is None:
        raise ToolError("a delegated task cannot delegate again")
    agent = string_arg(args, "agent")
    instruction = string_arg(args, "instruction")
    return await ctx.run_subtask(agent, instruction)


async def create_goal(args: dict[str, Any], ctx: ToolContext) -> str:
    if ctx.create_goal is None:
        raise ToolError("goals cannot be created from here")
    return await ctx.create_goal(args)


async def check_service_health(args: dict[str, Any], ctx: ToolContext) -> str:
    report = await ctx.service_health()
    return "\n".join(f"{name}: {state}" for name, state in report.items())


PLATFORM_TOOLS = [
    Tool(
        "list_agents",
        "platform",
        "List the platform's agents with status and model.",
        schema({}),
        list_agents,
    ),
    Tool(
        "create_task",
        "platform",
        "Give another agent (by name or id) a one-shot instruction and return its answer.",
        schema({"agent": {"type": "string"}, "instruction": {"type": "string"}}, ["agent", "instruction"]),
        create_task,
    ),
    Tool(
        "create_goal",
        "platform",
        "Create a goal Nova works on by itself, optionally on a schedule (cron, UTC), e.g. a reminder every "
        "Monday at 09:00 is schedule_cron '0 9 * * 1'. Use it when the user asks for something recurring or "
        "long-running; answer with the goal's title and when it runs next.",
        schema(
            {
                "title": {"type": "string", "description": "short name of the goal"},
                "description": {"type": "string", "description": "what done looks like"},
                "schedule_cron": {"type": "string", "description": "five-field cron expression in UTC"},
                "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                "max_completions": {"type": "integer", "minimum": 1},
            },
            ["title"],
        ),
        create_goal,
    ),
    Tool(
        "check_service_health",
        "platform",
        "Report whether llm-gateway, memory-service and the orchestrator's own stores are up.",
        schema({}),
        check_service_health,
    ),
]
