"""Platform settings: identity, persona, model routing, context budgets, tool permissions.

Values live in `platform_config`; a key never written reads as its built-in default. Values are mirrored
to Redis DB 1 (`nova:config:<key>`, JSON text) at startup and on each change, which is where llm-gateway,
chat-bridge and the workers read them without a restart. A null value removes the Redis key, and the
`llm.*` defaults are never mirrored: until an admin sets one, the gateway keeps its own env setting.

Secret settings (provider API keys, bot tokens) are answered masked by the API and mirrored sealed with
the service token (`nova_common.secretbox`), so neither an API response nor Redis ever holds them in clear.
"""

import json
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
import structlog
from pydantic import Field, TypeAdapter, ValidationError

from nova_common.errors import BadRequest, NotFound
from nova_common.secretbox import seal_config_value
from nova_contracts.orchestrator import (
    PROVIDER_KEY_SLUGS,
    ConfigEntry,
    ConfigUpdate,
    Identity,
    SandboxTier,
    config_redis_key,
    encode_config_value,
    provider_key_setting,
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
    secret: bool = False


def _setting(
    default: Any, description: str, type_: Any, *, mirror_default: bool = True, secret: bool = False
) -> Setting:
    return Setting(default, description, TypeAdapter(type_), mirror_default, secret)


def _secret(description: str) -> Setting:
    """A credential: null by default, answered masked, mirrored sealed."""
    return _setting(
        None,
        description,
        Annotated[str, Field(min_length=8, max_length=8192)] | None,
        mirror_default=False,
        secret=True,
    )


def mask(value: Any) -> str | None:
    """What the API shows of a secret: enough to recognise it, never enough to use it."""
    if value is None:
        return None
    text = str(value)
    return "••••" + text[-4:] if len(text) >= 12 else "••••"


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
    **{
        provider_key_setting(slug): _secret(
            f"API key or token for the {slug} provider (overrides the env var)"
        )
        for slug in PROVIDER_KEY_SLUGS
    },
    "telegram.bot_token": _secret("Telegram bot token (from @BotFather) used by chat-bridge"),
    "slack.bot_token": _secret("Slack bot token (xoxb-…) used by chat-bridge"),
    "slack.app_token": _secret("Slack app-level token (xapp-…) for Socket Mode"),
    "slack.signing_secret": _secret("Slack signing secret for the Events API"),
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
        service_token: str,
        cache_seconds: float = 5.0,
    ) -> None:
        self.repository = repository
        self.config_redis = config_redis
        self.service_token = service_token
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

    @staticmethod
    def _is_secret(key: str, row: dict[str, Any] | None) -> bool:
        setting = KNOWN_SETTINGS.get(key)
        return bool(setting and setting.secret) or bool(row and row["is_secret"])

    def _entry(self, key: str, row: dict[str, Any] | None) -> ConfigEntry:
        setting = KNOWN_SETTINGS.get(key)
        secret = self._is_secret(key, row)
        if row is None:
            assert setting is not None
            return ConfigEntry(
                key=key, value=setting.default, description=setting.description, is_secret=secret
            )
        return ConfigEntry(
            key=key,
            value=mask(row["value"]) if secret else row["value"],
            description=row["description"] or (setting.description if setting else None),
            is_secret=secret,
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
        if isinstance(value, str) and value.startswith("••••"):
            raise BadRequest(f"{key}: send the secret itself, not its masked form")
        if key.startswith("context.") and key.endswith("_pct"):
            await self._check_context_total(key, value)
        secret = self._is_secret(key, (await self._load()).get(key))
        if value is None:
            # Null means "not set": the row goes, so the key reads as its default (or disappears) again.
            await self.repository.delete(key)
            self._loaded_at = float("-inf")
            await self._mirror([(key, None, secret)])
            log.info("platform_config_cleared", key=key)
            if setting is None:
                return ConfigEntry(key=key, value=None, is_secret=secret)
            return self._entry(key, None)
        row = await self.repository.upsert(key, value, update.description, is_secret=secret)
        self._loaded_at = float("-inf")
        await self._mirror([(key, value, secret)])
        log.info("platform_config_updated", key=key, secret=secret)
        return self._entry(key, {**dict(row), "value": json.loads(row["value"])})

    async def _mirror(self, items: list[tuple[str, Any, bool]]) -> None:
        """Write (key, raw value, is secret) to Redis DB 1; secrets sealed, null values removed."""
        async with self.config_redis.pipeline(transaction=False) as pipe:
            for key, value, secret in items:
                if value is None:
                    pipe.delete(config_redis_key(key))
                elif secret and not self.service_token:
                    log.warning("secret_not_mirrored", key=key, reason="NOVA_SERVICE_TOKEN is unset")
                    pipe.delete(config_redis_key(key))
                elif secret:
                    pipe.set(config_redis_key(key), seal_config_value(str(value), self.service_token))
                else:
                    pipe.set(config_redis_key(key), encode_config_value(value))
            await pipe.execute()

    async def _check_context_total(self, key: str, value: int) -> None:
        shares = {k: await self.value(f"context.{k}_pct") for k in CONTEXT_KEYS}
        shares[key.removeprefix("context.").removesuffix("_pct")] = value
        if sum(shares.values()) > 100:
            raise BadRequest(f"context shares would add up to {sum(shares.values())} %, more than 100 %")

    async def sync_to_redis(self) -> int:
        """Mirror every value to Redis DB 1 (defaults only where `mirror_default`); returns how many."""
        rows = await self._load()
        items = [
            (
                key,
                rows[key]["value"] if key in rows else KNOWN_SETTINGS[key].default,
                self._is_secret(key, rows.get(key)),
            )
            for key in sorted(set(KNOWN_SETTINGS) | set(rows))
            if key in rows or KNOWN_SETTINGS[key].mirror_default
        ]
        if items:
            await self._mirror(items)
        return len(items)

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
