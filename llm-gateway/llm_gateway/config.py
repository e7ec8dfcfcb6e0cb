"""llm-gateway settings, read from the environment and `.env`.

Provider credentials are the seed's variable names; a key entered in the dashboard (Redis
`nova:config:llm.api_key.<slug>`, see providers/registry.py) overrides them at runtime. Every provider also
takes `<SLUG>_BASE_URL` (e.g. `OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`) to point it at a proxy, a self-hosted
server or a test fake; LiteLLM appends `models/<model>:generateContent` to `GEMINI_BASE_URL`, so that one
includes the API version (`…/v1beta`).
"""

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr

from nova_common.config import NovaSettings
from nova_common.credentials import KEY_CACHE_SECONDS
from nova_contracts.llm import InferenceBackend, RoutingStrategy


class Settings(NovaSettings):
    service_name: str = "llm-gateway"
    port: int = 8001

    # Routing
    llm_routing_strategy: RoutingStrategy = RoutingStrategy.LOCAL_FIRST
    default_chat_model: str = ""
    # Empty: the built-in all-MiniLM-L6-v2. Not switched automatically when a cloud key appears, because
    # that would silently change the vector dimension under memory-service's pgvector column.
    default_embed_model: str = ""

    # The local model slot. Redis `nova:config:inference.*` (written by recovery/dashboard) overrides these.
    inference_backend: InferenceBackend = InferenceBackend.AUTO
    inference_url: str = ""
    # The seed's name for the Ollama URL; used for the local slot when INFERENCE_URL is not set.
    ollama_base_url: str = ""
    inference_auth_header: SecretStr = SecretStr("")
    local_context_window: int = Field(default=4096, ge=256)
    config_refresh_seconds: float = Field(default=3.0, gt=0)

    # Credentials (seed names)
    anthropic_api_key: SecretStr = SecretStr("")
    openai_api_key: SecretStr = SecretStr("")
    groq_api_key: SecretStr = SecretStr("")
    gemini_api_key: SecretStr = SecretStr("")
    cerebras_api_key: SecretStr = SecretStr("")
    openrouter_api_key: SecretStr = SecretStr("")
    github_token: SecretStr = SecretStr("")
    claude_code_oauth_token: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_MAX_TOKEN")
    )
    claude_credentials_file: Path = Path("~/.claude/.credentials.json")
    chatgpt_access_token: SecretStr = SecretStr("")
    chatgpt_auth_file: Path = Path("~/.codex/auth.json")
    # Any other OpenAI-compatible server (vLLM, SGLang, LM Studio, a hosted endpoint), as provider `custom`.
    custom_llm_url: str = ""
    custom_llm_auth_header: SecretStr = SecretStr("")

    # Base URL overrides, one per provider slug (empty: the provider's public endpoint).
    anthropic_base_url: str = ""
    openai_base_url: str = ""
    groq_base_url: str = ""
    gemini_base_url: str = ""
    cerebras_base_url: str = ""
    openrouter_base_url: str = ""
    github_base_url: str = ""
    claude_max_base_url: str = ""
    chatgpt_base_url: str = ""

    # Default model per provider: the fallback target when a chain moves on to that provider.
    default_openai_model: str = "gpt-4o-mini"
    default_anthropic_model: str = "claude-sonnet-4-6"
    default_groq_model: str = "llama-3.3-70b-versatile"
    default_gemini_model: str = "gemini-2.5-flash"
    default_cerebras_model: str = "llama3.1-8b"
    default_openrouter_model: str = "meta-llama/llama-3.3-70b-instruct:free"
    default_github_model: str = "openai/gpt-4o-mini"
    default_claude_max_model: str = "claude-sonnet-4-6"
    default_chatgpt_model: str = "gpt-5.5"
    default_custom_model: str = ""

    # Limits: {"groq": 14400, ...}; unset slugs use the free-tier figures in providers/catalog.py.
    provider_daily_quotas: dict[str, int] = Field(default_factory=dict)
    quota_window_seconds: int = Field(default=86_400, ge=1)

    # Timeouts (seconds) for every provider call; the first token of a stream must arrive within read.
    provider_connect_timeout: float = Field(default=5.0, gt=0)
    provider_read_timeout: float = Field(default=120.0, gt=0)
    health_test_timeout: float = Field(default=30.0, gt=0)

    # Caches
    response_cache_ttl: int = Field(default=300, ge=0)
    embed_cache_ttl: int = Field(default=7 * 86_400, ge=0)
    # How long an API key's validation is trusted: the stack's revocation bound (nova_common.credentials).
    api_key_cache_seconds: float = Field(default=KEY_CACHE_SECONDS, gt=0, le=300)

    # Usage records: Redis stream the orchestrator consumes.
    usage_stream: str = "nova:usage:events"
    usage_stream_maxlen: int = Field(default=100_000, ge=1000)

    # "litellm" sends OpenAI-compatible upstreams through LiteLLM too (slower; see bench/gateway_overhead.py).
    openai_compatible_transport: str = Field(default="direct", pattern="^(direct|litellm)$")


@lru_cache
def get_settings() -> Settings:
    return Settings()
