"""Platform settings: identity, persona, model routing, context budgets, tool permissions.

Values live in `platform_config`; a key never written reads as its built-in default. Non-secret values are
mirrored to Redis DB 1 (`nova:config:<key>`, JSON text) at startup and on each change, which is where
llm-gateway and the workers read them without a restart. A null value removes the Redis key, and the
`llm.*` defaults are never mirrored: until an admin sets one, the gateway keeps its own env setting.
"""

import json
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
import structlog
from pydantic import Field, TypeAdapter, ValidationError

from nova_common.errors import BadRequest, NotFound
from nova_contracts.orchestrator import (
    ConfigEntry,
    ConfigUpdate,
    Identity,
    SandboxTier,
    config_redis_key,
    encode_config_value,
)
from orchestrator.platform_config.repository import PlatformConfigRepository

log = structlog.get_logger("orchestrator.platform_config")

Percent = Annotated[int, Field(ge=0, le=100)]


@dataclass(frozen=True)
class Setting:
    default: Any
    description: str
    type: TypeAdapter[Any]
    # False for settings another service also takes from its own env: only an explicit value is mirrored.
    mirror_default: bool = True


def _setting(default: Any, description: str, type_: Any, *, mirror_default: bool = True) -> Setting:
    return Setting(default, description, TypeAdapter(type_), mirror_default)


CONTEXT_KEYS = ("system", "tools", "memory", "history", "working")

KNOWN_SETTINGS: dict[str, Setting] = {
    "nova.name": _setting(
        "Nova", "The AI's display name", Annotated[str, Field(min_length=1, max_length=100)]
    ),
    "nova.persona": _setting(
        "Helpful, direct and candid. Says so when it does not know, and shows its work.",
        "Personality and tone added to every agent's system prompt",
        Annotated[str, Field(max_length=20_000)],
    ),
    "nova.greeting": _setting(
        "Hello! I'm {name}. I can work in your workspace, remember what matters and use tools. "
        "What shall we do?",
        "First message the dashboard shows; {name} is replaced by the display name",
        Annotated[str, Field(max_length=2000)],
    ),
    "llm.default_chat_model": _setting(
        None,
        "Model for agents that name none (null: the gateway's own DEFAULT_CHAT_MODEL)",
        Annotated[str, Field(min_length=1, max_length=128)] | None,
        mirror_default=False,
    ),
    "llm.routing_strategy": _setting(
        None,
        "How llm-gateway picks between local and cloud models (null: its LLM_ROUTING_STRATEGY)",
        Literal["local-only", "local-first", "cloud-only", "cloud-first"] | None,
        mirror_default=False,
    ),
    **{
        f"context.{part}_pct": _setting(
            default, f"Share of an agent's context window for {part} (percent)", Percent
        )
        for part, default in zip(CONTEXT_KEYS, (10, 15, 40, 20, 15), strict=True)
    },
    "sandbox.default_tier": _setting(
        None,
        "Sandbox tier of agents that name none (null: SHELL_SANDBOX)",
        SandboxTier | None,
    ),
    "tool_permissions": _setting(
        {}, "Built-in tool groups switched on or off (a missing group is on)", dict[str, bool]
    ),
}


@dataclass(frozen=True)
class ContextBudget:
    """Token shares of one agent's context window."""

    total: int
    system: int
    tools: int
    memory: int
    history: int
    working: int


class PlatformConfigService:
    def __init__(
        self,
        repository: PlatformConfigRepository,
        config_redis: aioredis.Redis,
        *,
        cache_seconds: float = 5.0,
    ) -> None:
        self.repository = repository
        self.config_redis = config_redis
        self.cache_seconds = cache_seconds
        self._rows: dict[str, dict[str, Any]] = {}
        self._loaded_at = float("-inf")

    async def _load(self) -> dict[str, dict[str, Any]]:
        # Other orchestrator processes may change a value; a short cache bounds how stale this one gets.
        if time.monotonic() - self._loaded_at > self.cache_seconds:
            rows = await self.repository.all()
            self._rows = {r["key"]: {**dict(r), "value": json.loads(r["value"])} for r in rows}
            self._loaded_at = time.monotonic()
        return self._rows

    def _entry(self, key: str, row: dict[str, Any] | None) -> ConfigEntry:
        setting = KNOWN_SETTINGS.get(key)
        if row is None:
            assert setting is not None
            return ConfigEntry(key=key, value=setting.default, description=setting.description)
        return ConfigEntry(
            key=key,
            value=row["value"],
            description=row["description"] or (setting.description if setting else None),
            is_secret=row["is_secret"],
            is_set=True,
            updated_at=row["updated_at"],
        )

    async def entries(self) -> list[ConfigEntry]:
        rows = await self._load()
        keys = sorted(set(KNOWN_SETTINGS) | set(rows))
        return [self._entry(k, rows.get(k)) for k in keys]

    async def entry(self, key: str) -> ConfigEntry:
        rows = await self._load()
        if key not in rows and key not in KNOWN_SETTINGS:
            raise NotFound(f"config key {key!r} not found")
        return self._entry(key, rows.get(key))

    async def value(self, key: str) -> Any:
        rows = await self._load()
        if key in rows:
            return rows[key]["value"]
        return KNOWN_SETTINGS[key].default

    async def update(self, key: str, update: ConfigUpdate) -> ConfigEntry:
        value = update.value
        setting = KNOWN_SETTINGS.get(key)
        if setting is not None:
            try:
                value = setting.type.validate_python(value)
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                raise BadRequest(f"invalid value for {key}: {problem}") from exc
            value = setting.type.dump_python(value, mode="json")
        if key.startswith("context.") and key.endswith("_pct"):
            await self._check_context_total(key, value)
        row = await self.repository.upsert(key, value, update.description)
        self._loaded_at = float("-inf")
        entry = self._entry(key, {**dict(row), "value": json.loads(row["value"])})
        if not entry.is_secret:
            await self._mirror([entry])
        log.info("platform_config_updated", key=key)
        return entry

    async def _mirror(self, entries: list[ConfigEntry]) -> None:
        async with self.config_redis.pipeline(transaction=False) as pipe:
            for entry in entries:
                if entry.value is None:
                    pipe.delete(config_redis_key(entry.key))
                else:
                    pipe.set(config_redis_key(entry.key), encode_config_value(entry.value))
            await pipe.execute()

    async def _check_context_total(self, key: str, value: int) -> None:
        shares = {k: await self.value(f"context.{k}_pct") for k in CONTEXT_KEYS}
        shares[key.removeprefix("context.").removesuffix("_pct")] = value
        if sum(shares.values()) > 100:
            raise BadRequest(f"context shares would add up to {sum(shares.values())} %, more than 100 %")

    async def sync_to_redis(self) -> int:
        """Mirror every non-secret value to Redis DB 1 (defaults only where `mirror_default`); returns how many."""
        entries = [
            e
            for e in await self.entries()
            if not e.is_secret and (e.is_set or KNOWN_SETTINGS[e.key].mirror_default)
        ]
        if entries:
            await self._mirror(entries)
        return len(entries)

    async def identity(self) -> Identity:
        name = str(await self.value("nova.name"))
        greeting = str(await self.value("nova.greeting"))
        return Identity(name=name, greeting=greeting.replace("{name}", name))

    async def context_budget(self, total_tokens: int) -> ContextBudget:
        shares = {k: int(await self.value(f"context.{k}_pct")) for k in CONTEXT_KEYS}
        return ContextBudget(total=total_tokens, **{k: total_tokens * p // 100 for k, p in shares.items()})

    async def tool_permissions(self) -> dict[str, bool]:
        value = await self.value("tool_permissions")
        return dict(value) if isinstance(value, dict) else {}
