"""orchestrator settings, read from the environment and `.env`."""

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from nova_common.config import DatabaseSettings
from nova_contracts.orchestrator import SandboxTier
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.tools.web_search import SearchBackendKind


class Settings(DatabaseSettings):
    # `PIPELINE_WORKER_CONCURRENCY` fills `pipeline.worker_concurrency`: the first `_` of a variable whose
    # prefix names a nested settings model (only `pipeline`) splits it; other variables are read as usual.
    model_config = SettingsConfigDict(env_nested_delimiter="_", env_nested_max_split=1)

    service_name: str = "orchestrator"
    port: int = 8000

    primary_agent_name: str = "Nova"

    # Sandbox roots. `make run` starts services from the repo root, so the default lands in ./data/workspace;
    # Compose sets NOVA_WORKSPACE=/workspace (a volume).
    workspace: Path = Field(default=Path("data/workspace"), alias="NOVA_WORKSPACE")
    nova_root: Path = Field(default=Path("."), alias="NOVA_ROOT")
    # Installation-wide choices an operator sets once carry the NOVA_ prefix (like NOVA_WORKSPACE); the rest
    # of the variables are the field names. SHELL_SANDBOX is the old name, still read, with a warning.
    default_sandbox: SandboxTier = Field(default=SandboxTier.WORKSPACE, alias="NOVA_DEFAULT_SANDBOX")
    deprecated_shell_sandbox: SandboxTier | None = Field(default=None, alias="SHELL_SANDBOX", exclude=True)
    # The host tier reaches the whole filesystem; an agent may only use it when the operator opts in here.
    allow_host_sandbox: bool = Field(default=False, alias="NOVA_ALLOW_HOST_SANDBOX")
    shell_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    tool_output_max_chars: int = Field(default=16_000, ge=100, le=1_000_000)
    web_fetch_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    web_fetch_max_bytes: int = Field(default=1_000_000, ge=1000)
    # web_search's backend: off until the operator picks one. A SearXNG instance on a private network needs
    # its network in WEB_SEARCH_ALLOWED_NETWORKS (the SSRF guard refuses private addresses otherwise).
    web_search_backend: SearchBackendKind | None = None
    web_search_searxng_url: str | None = None
    web_search_html_url: str = "https://html.duckduckgo.com/html/"
    web_search_max_results: int = Field(default=8, ge=1, le=20)
    web_search_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)

    # One agent turn: at most this many tool rounds and this much wall time.
    agent_max_tool_rounds: int = Field(default=5, ge=0, le=50)
    agent_turn_timeout_seconds: float = Field(default=180.0, gt=0)
    llm_call_timeout_seconds: float = Field(default=120.0, gt=0)
    memory_timeout_seconds: float = Field(default=15.0, gt=0)
    task_ttl_seconds: int = Field(default=86_400, ge=60)

    mcp_connect_timeout_seconds: float = Field(default=30.0, gt=0)
    mcp_call_timeout_seconds: float = Field(default=60.0, gt=0)
    mcp_ping_interval_seconds: float = Field(default=15.0, gt=0)

    usage_stream: str = "nova:usage:events"
    usage_consumer_group: str = "orchestrator-usage"
    usage_block_ms: int = Field(default=5000, ge=10)
    key_touch_interval_seconds: float = Field(default=5.0, gt=0)
    platform_config_cache_seconds: float = Field(default=5.0, ge=0)

    # The task pipeline's queue, workers and reaper (PIPELINE_* variables).
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    @model_validator(mode="after")
    def _read_deprecated_names(self) -> Self:
        if self.deprecated_shell_sandbox is not None:
            warnings.warn(
                "SHELL_SANDBOX is deprecated: rename it to NOVA_DEFAULT_SANDBOX"
                + (
                    " (both are set; NOVA_DEFAULT_SANDBOX wins)"
                    if "default_sandbox" in self.model_fields_set
                    else ""
                ),
                FutureWarning,
                stacklevel=2,
            )
            if "default_sandbox" not in self.model_fields_set:
                self.default_sandbox = self.deprecated_shell_sandbox
        if self.web_search_backend is SearchBackendKind.SEARXNG and not self.web_search_searxng_url:
            raise ValueError("WEB_SEARCH_BACKEND=searxng needs WEB_SEARCH_SEARXNG_URL, the instance's URL")
        return self

    @field_validator("workspace", "nova_root")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        # .env.example suggests `~/.nova/workspace`; a literal "~" folder would be a surprise.
        return value.expanduser()


@lru_cache
def get_settings() -> Settings:
    return Settings()
