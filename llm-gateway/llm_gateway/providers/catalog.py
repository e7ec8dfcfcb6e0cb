"""Every provider Nova knows: how it is reached, which credential enables it, its free-tier quota.

`wire="openai"` providers speak OpenAI's chat-completions protocol and are called directly with httpx
(bench/gateway_overhead.py measured LiteLLM's per-call cost as the dominant overhead for them); the others
go through LiteLLM, which translates to their own protocols.
"""

from dataclasses import dataclass
from typing import Literal

from nova_contracts.llm import ProviderType

Wire = Literal["openai", "litellm"]


@dataclass(frozen=True)
class ProviderSpec:
    slug: str
    name: str
    type: ProviderType
    wire: Wire
    # LiteLLM's provider prefix (`<prefix>/<model>`), also the price-map key prefix.
    litellm_prefix: str
    default_base_url: str
    auth_methods: tuple[str, ...]
    # Free-tier daily request quota (anchor-inventory §3.6); None: unlimited (paid, local, subscription).
    daily_quota: int | None = None
    models: tuple[str, ...] = ()
    embedding_models: tuple[str, ...] = ()


CLOUD_PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "anthropic",
        "Anthropic",
        ProviderType.PAID,
        "litellm",
        "anthropic",
        "https://api.anthropic.com",
        ("ANTHROPIC_API_KEY",),
        models=("claude-sonnet-4-6", "claude-opus-4-1", "claude-haiku-4-5"),
    ),
    ProviderSpec(
        "openai",
        "OpenAI",
        ProviderType.PAID,
        "openai",
        "openai",
        "https://api.openai.com/v1",
        ("OPENAI_API_KEY",),
        models=("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini"),
        embedding_models=("text-embedding-3-small", "text-embedding-3-large"),
    ),
    ProviderSpec(
        "groq",
        "Groq",
        ProviderType.FREE,
        "openai",
        "groq",
        "https://api.groq.com/openai/v1",
        ("GROQ_API_KEY",),
        daily_quota=14_400,
        models=("llama-3.3-70b-versatile", "llama-3.1-8b-instant"),
    ),
    ProviderSpec(
        "gemini",
        "Google Gemini",
        ProviderType.FREE,
        "litellm",
        "gemini",
        "https://generativelanguage.googleapis.com",
        ("GEMINI_API_KEY",),
        daily_quota=250,
        models=("gemini-2.5-flash", "gemini-2.5-pro"),
        embedding_models=("text-embedding-004",),
    ),
    ProviderSpec(
        "cerebras",
        "Cerebras",
        ProviderType.FREE,
        "openai",
        "cerebras",
        "https://api.cerebras.ai/v1",
        ("CEREBRAS_API_KEY",),
        daily_quota=5_000,
        models=("llama3.1-8b", "llama-3.3-70b"),
    ),
    ProviderSpec(
        "openrouter",
        "OpenRouter",
        ProviderType.FREE,
        "openai",
        "openrouter",
        "https://openrouter.ai/api/v1",
        ("OPENROUTER_API_KEY",),
        daily_quota=200,
        models=("meta-llama/llama-3.3-70b-instruct:free",),
    ),
    ProviderSpec(
        "github",
        "GitHub Models",
        ProviderType.FREE,
        "openai",
        "github",
        "https://models.github.ai/inference",
        ("GITHUB_TOKEN",),
        daily_quota=150,
        models=("openai/gpt-4o-mini", "openai/gpt-4o"),
    ),
    ProviderSpec(
        "claude-max",
        "Claude Max/Pro subscription",
        ProviderType.SUBSCRIPTION,
        "litellm",
        "anthropic",
        "https://api.anthropic.com",
        ("CLAUDE_CODE_OAUTH_TOKEN", "~/.claude/.credentials.json"),
        models=("claude-sonnet-4-6", "claude-opus-4-1", "claude-haiku-4-5"),
    ),
    ProviderSpec(
        "chatgpt",
        "ChatGPT Plus/Pro subscription",
        ProviderType.SUBSCRIPTION,
        "litellm",
        "chatgpt",
        "https://chatgpt.com/backend-api/codex",
        ("CHATGPT_ACCESS_TOKEN", "~/.codex/auth.json"),
        # Only models LiteLLM's map lists under `chatgpt/`: for any other name LiteLLM fakes a stream and drops
        # `"stream": true`, which the Codex backend refuses ("Stream must be set to true").
        models=("gpt-5.5", "gpt-5.4", "gpt-5.3-codex"),
    ),
    ProviderSpec(
        "custom",
        "Custom OpenAI-compatible endpoint",
        ProviderType.PAID,
        "openai",
        "openai",
        "",
        ("CUSTOM_LLM_URL", "CUSTOM_LLM_AUTH_HEADER"),
    ),
)

# Order in which a cloud fallback chain visits providers: free tiers first, then subscriptions, then paid
# (anchor-inventory §3.6: groq → gemini → cerebras → openrouter → github → chatgpt → paid).
CLOUD_FALLBACK_ORDER: tuple[str, ...] = (
    "groq",
    "gemini",
    "cerebras",
    "openrouter",
    "github",
    "claude-max",
    "chatgpt",
    "anthropic",
    "openai",
    "custom",
)

LOCAL_SLUG = "local"

BY_SLUG: dict[str, ProviderSpec] = {spec.slug: spec for spec in CLOUD_PROVIDERS}
