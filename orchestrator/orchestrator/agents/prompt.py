"""The system prompt of an agent turn and the history that fits its budget.

Token counts are estimates (four characters a token): close enough to keep a prompt inside its share of
the context window without a tokenizer per model.
"""

from datetime import UTC, datetime
from typing import Any

from nova_contracts.llm import Message, ToolDefinition
from nova_contracts.orchestrator import AgentInfo
from orchestrator.tools.sandbox import Sandbox

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def clip_to_tokens(text: str, tokens: int) -> str:
    limit = max(0, tokens) * CHARS_PER_TOKEN
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def system_prompt(
    *,
    agent: AgentInfo,
    ai_name: str,
    persona: str,
    model: str | None,
    sandbox: Sandbox,
    tools: list[ToolDefinition],
    memory_context: str,
    caller_instructions: str,
    system_budget: int,
) -> str:
    identity = f"You are {ai_name}" + (
        f", working as the agent “{agent.config.name}”." if agent.config.name != ai_name else "."
    )
    head = "\n\n".join(p for p in (identity, persona.strip(), agent.config.system_prompt.strip()) if p)
    sections = [clip_to_tokens(head, system_budget)]

    where = (
        "no filesystem or shell (isolated sandbox)"
        if sandbox.root is None
        else f"the {sandbox.tier.value} sandbox; paths are relative to its root"
    )
    sections.append(
        "## Platform context\n"
        f"- Now: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
        f"- Model: {model or 'the gateway default'}\n"
        f"- Files and commands: {where}\n"
        "- You run inside Nova, a self-hosted AI platform; tool results come back as tool messages."
    )
    if tools:
        listing = "\n".join(
            f"- {t.name}: {t.description.splitlines()[0] if t.description else ''}" for t in tools
        )
        sections.append(
            "## Tools\nCall a tool when it gets you facts you do not have; otherwise answer directly.\n"
            + listing
        )
    if memory_context.strip():
        sections.append(
            "## What you remember\nFrom earlier conversations and saved facts; use it when relevant.\n"
            + memory_context.strip()
        )
    if caller_instructions.strip():
        sections.append("## Instructions for this conversation\n" + caller_instructions.strip())
    return "\n\n".join(sections)


def _without_descriptions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_descriptions(v) for k, v in schema.items() if k not in ("description", "title")}
    if isinstance(schema, list):
        return [_without_descriptions(v) for v in schema]
    return schema


def compact_tool(tool: ToolDefinition) -> ToolDefinition:
    """The same tool in fewer tokens: the first line of its description, its schema without prose."""
    first_line = tool.description.strip().splitlines()[0][:200] if tool.description.strip() else ""
    return ToolDefinition(
        name=tool.name, description=first_line, parameters=_without_descriptions(tool.parameters)
    )


def _cost(tools: list[ToolDefinition]) -> int:
    return sum(estimate_tokens(t.model_dump_json()) for t in tools)


def fit_tools(tools: list[ToolDefinition], budget_tokens: int) -> tuple[list[ToolDefinition], list[str]]:
    """The tools within the tools share of the context, and the names left out.

    Full definitions when they fit; otherwise every tool compacted, so a long list loses prose before it
    loses tools; only then are tools dropped, from the end (MCP tools come after the built-in ones).
    """
    if _cost(tools) <= budget_tokens:
        return tools, []
    kept: list[ToolDefinition] = []
    used = 0
    for tool in map(compact_tool, tools):
        cost = estimate_tokens(tool.model_dump_json())
        if used + cost > budget_tokens:
            break
        kept.append(tool)
        used += cost
    return kept, [t.name for t in tools[len(kept) :]]


def conversation_history(messages: list[Message], budget_tokens: int) -> tuple[list[Message], str]:
    """User and assistant turns that fit the history budget (newest kept), plus the callers' system text.

    The last message is always kept. Tool traffic of earlier turns is dropped: a tool result whose call was
    cut away is refused by providers, and earlier answers already say what the tools found.
    """
    instructions = "\n\n".join(m.text for m in messages if m.role == "system")
    turns = [
        Message(role=m.role, content=m.content, name=m.name)
        for m in messages
        if m.role in ("user", "assistant") and (m.text.strip() or not isinstance(m.content, str))
    ]
    if not turns:
        return [], instructions
    kept = [turns[-1]]
    used = estimate_tokens(turns[-1].text)
    for message in reversed(turns[:-1]):
        cost = estimate_tokens(message.text)
        if used + cost > budget_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # Providers expect the conversation to open with the user.
    while kept and kept[0].role != "user":
        kept.pop(0)
    return kept, instructions
