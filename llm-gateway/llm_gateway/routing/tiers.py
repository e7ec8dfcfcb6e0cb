"""Model choice by tier when a caller names no model: `tier` (best | mid | cheap) or a `task_type` that implies one.

A caller that knows what a call is for (a pipeline's guardrail check, a code review, a chat turn) says so
instead of naming a model, and the gateway picks the first *available* model of that tier, then of the
tiers below it, so a cheap call never lands on the most expensive model and a hard one is not stuck on a
small one when a better model is configured. A request that names a model always gets that model.

Tiers order the cloud models; where the local model goes is the routing strategy's decision, as for any
request (first under local-first, last under cloud-first, never under cloud-only, alone under local-only).
What is available is decided by the registry (credentials present, provider enabled); quotas and failures
are handled by the fallback chain as for any other request.
"""

from typing import Final

from nova_contracts.llm import Tier

TIER_ORDER: Final[tuple[Tier, ...]] = ("best", "mid", "cheap")

# `<provider>/<model>` per tier, most preferred first.
TIER_PREFERENCES: Final[dict[Tier, tuple[str, ...]]] = {
    "best": (
        "anthropic/claude-sonnet-4-6",
        "claude-max/claude-sonnet-4-6",
        "openai/gpt-4.1",
        "openai/gpt-4o",
        "chatgpt/gpt-5.5",
        "gemini/gemini-2.5-pro",
    ),
    "mid": (
        "groq/llama-3.3-70b-versatile",
        "gemini/gemini-2.5-flash",
        "cerebras/llama-3.3-70b",
        "openai/gpt-4.1-mini",
        "openai/gpt-4o-mini",
        "anthropic/claude-haiku-4-5",
        "openrouter/meta-llama/llama-3.3-70b-instruct:free",
        "github/openai/gpt-4o-mini",
    ),
    "cheap": (
        "groq/llama-3.1-8b-instant",
        "cerebras/llama3.1-8b",
        "gemini/gemini-2.5-flash",
        "openai/gpt-4o-mini",
    ),
}

# What each kind of call needs (the pipeline's stages, cortex's loop, chat); unknown types choose no tier.
TASK_TYPE_TIERS: Final[dict[str, Tier]] = {
    "planning": "best",
    "task_execution": "best",
    "code_review": "best",
    "decision": "best",
    "goal_work": "mid",
    "reflection": "mid",
    "chat": "mid",
    "guardrail": "cheap",
    "context_retrieval": "cheap",
    "extraction": "cheap",
    "narration": "cheap",
}


def resolve_tier(tier: Tier | None, task_type: str | None) -> Tier | None:
    """The tier a request asks for: its own `tier`, else the one its `task_type` implies, else none."""
    if tier is not None:
        return tier
    return TASK_TYPE_TIERS.get(task_type or "")


def tier_candidates(tier: Tier) -> list[str]:
    """Model ids to try for `tier`: its preferences, then those of every lower tier, each once."""
    start = TIER_ORDER.index(tier)
    ordered = [model for lower in TIER_ORDER[start:] for model in TIER_PREFERENCES[lower]]
    return list(dict.fromkeys(ordered))
