"""The services of the stack, as the seed's table lists them. Used by the launcher and by recovery."""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    profile: str | None = None
    package: str | None = None  # Python import package; None for non-Python services
    role: str = ""

    @property
    def url_setting(self) -> str:
        """The settings field (and env var, upper-cased) holding this service's base URL."""
        return self.name.replace("-", "_") + "_url"


SERVICES: Final[tuple[ServiceSpec, ...]] = (
    ServiceSpec(
        "orchestrator", 8000, None, "orchestrator", "agents, task queue, pipeline, MCP tools, migrations"
    ),
    ServiceSpec("llm-gateway", 8001, None, "llm_gateway", "multi-provider model routing via LiteLLM"),
    ServiceSpec(
        "memory-service", 8002, None, "memory_service", "embeddings and hybrid retrieval on pgvector"
    ),
    ServiceSpec("chat-api", 8080, None, "chat_api", "WebSocket streaming bridge for external clients"),
    ServiceSpec("chat-bridge", 8090, "bridges", "chat_bridge", "Telegram and Slack integration"),
    ServiceSpec("cortex", 8100, None, "cortex", "autonomous thinking loop, goals, drives, budget"),
    ServiceSpec("intel-worker", 8110, None, "intel_worker", "AI ecosystem feed poller"),
    ServiceSpec("knowledge-worker", 8120, "knowledge", "knowledge_worker", "personal-knowledge crawler"),
    ServiceSpec("voice-service", 8130, "voice", "voice_service", "speech-to-text and text-to-speech proxy"),
    ServiceSpec("recovery", 8888, None, "recovery", "backups, factory reset, service management"),
    ServiceSpec("dashboard", 3000, None, None, "React admin UI"),
    ServiceSpec("model-server", 11434, None, None, "local model server (llama.cpp here, Ollama in Compose)"),
)
PROFILES: Final[frozenset[str]] = frozenset(s.profile for s in SERVICES if s.profile)


def service(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def enabled_profiles(raw: str | None) -> set[str]:
    """Parse COMPOSE_PROFILES (`bridges,voice`); unknown names are ignored."""
    return {p.strip() for p in (raw or "").split(",") if p.strip() in PROFILES}


def profiles_of(env: Mapping[str, str]) -> set[str]:
    """The opt-in services an environment enables. COMPOSE_PROFILES is the one name, so one `.env` starts
    the same services under `make run` and `make up`; NOVA_PROFILES, the launcher's old name, is still
    read when COMPOSE_PROFILES is absent, with a warning."""
    if "COMPOSE_PROFILES" in env:
        if "NOVA_PROFILES" in env:
            warnings.warn(
                "NOVA_PROFILES is deprecated and ignored because COMPOSE_PROFILES is set", FutureWarning, 2
            )
        return enabled_profiles(env["COMPOSE_PROFILES"])
    if "NOVA_PROFILES" in env:
        warnings.warn("NOVA_PROFILES is deprecated: rename it to COMPOSE_PROFILES", FutureWarning, 2)
        return enabled_profiles(env["NOVA_PROFILES"])
    return set()


def is_enabled(spec: ServiceSpec, profiles: set[str]) -> bool:
    return spec.profile is None or spec.profile in profiles
