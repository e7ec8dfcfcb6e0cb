"""Platform settings: identity, persona, model routing, context budgets, tool permissions.

Values live in `platform_config`; a key never written reads as its built-in default. Values are mirrored
to Redis DB 1 (`nova:config:<key>`, JSON text) at startup and on each change, which is where llm-gateway,
chat-bridge and the workers read them without a restart. A null value removes the Redis key, and the
`llm.*` defaults are never mirrored: until an admin sets one, the gateway keeps its own env setting.

Secret settings (provider API keys, bot tokens) are answered masked by the API and mirrored sealed with
the service token (`nova_common.secretbox`), so neither an API response nor Redis ever holds them in clear.

Every key has a schema: a value of the wrong type, out of range or not among the allowed values is refused
with 422 naming the key and the rule. Keys nobody reads are refused (404), except under `ext.` (an admin's
own flags, any JSON up to 64 KB). `auth.*` is reserved for the kit's admin-secret record in Redis: it can be
neither read nor written here (403), and the startup mirror never touches it.
"""

import json
import re
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import redis.asyncio as aioredis
import structlog
from pydantic import Field, TypeAdapter, ValidationError

from nova_common.errors import Forbidden, NotFound, NovaError
from nova_common.secretbox import seal_config_value
from nova_contracts.llm import (
    CLOUD_MODEL_ID_PATTERN,
    CLOUD_MODEL_PROVIDERS,
    LOCAL_MODEL_PREFIXES,
    InferenceBackend,
    RoutingStrategy,
)
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
from orchestrator.platform_config.model_catalog import ModelCatalog
from orchestrator.platform_config.repository import PlatformConfigRepository

log = structlog.get_logger("orchestrator.platform_config")

# `auth.admin_secret` in Redis is the kit's rotated-secret record (nova_common.auth.AdminSecrets).
RESERVED_PREFIXES = ("auth.",)
EXTENSION_PREFIX = "ext."
MAX_EXTENSION_JSON_CHARS = 64 * 1024

Percent = Annotated[int, Field(ge=0, le=100)]
# The names the tool registry uses for tools and tool groups.
ToolName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
# Telegram user/chat ids are integers (negative for groups); Slack ids are upper-case words (T0123, C0456).
ChatId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^-?[A-Za-z0-9_]+$")] | int
ChatIds = Annotated[list[ChatId], Field(max_length=1000)] | None
# Syntax only; which models exist is checked against the gateway (see PlatformConfigService._check_model).
ModelId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")]


class InvalidSetting(NovaError):
    """A value that breaks its key's rule: 422, like any malformed input, with the key and rule named."""

    status_code = 422
    code = "invalid_setting"


@dataclass(frozen=True)
class Setting:
    default: Any
    description: str
    type: TypeAdapter[Any]
    # False for settings another service also takes from its own env: only an explicit value is mirrored.
    mirror_default: bool = True
    secret: bool = False
    # The value names a model: beyond its syntax, the gateway must be able to route it.
    model_id: bool = False


def _setting(
    default: Any,
    description: str,
    type_: Any,
    *,
    mirror_default: bool = True,
    secret: bool = False,
    model_id: bool = False,
) -> Setting:
    return Setting(default, description, TypeAdapter(type_), mirror_default, secret, model_id)


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


VoiceProvider = Literal["auto", "openai", "openai_compatible", "deepgram", "elevenlabs", "offline"]
VoiceModel = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_.:/\-]*$")]

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
        "Model for agents that name none: `<provider>/<model>` or a model the gateway lists "
        "(null: the gateway's own DEFAULT_CHAT_MODEL)",
        ModelId | None,
        mirror_default=False,
        model_id=True,
    ),
    "llm.routing_strategy": _setting(
        None,
        "How llm-gateway picks between local and cloud models (null: its LLM_ROUTING_STRATEGY)",
        RoutingStrategy | None,
        mirror_default=False,
    ),
    "inference.backend": _setting(
        None,
        "What serves the gateway's local model slot (null: its INFERENCE_BACKEND)",
        InferenceBackend | None,
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
        "Sandbox tier of agents that name none (null: NOVA_DEFAULT_SANDBOX)",
        SandboxTier | None,
    ),
    "agents.key_default_tier": _setting(
        SandboxTier.WORKSPACE, "Sandbox tier of the agents an API key creates", SandboxTier
    ),
    "agents.key_default_tools": _setting(
        None,
        "Tools of the agents an API key creates (null: the built-in safe list, no shell and no git)",
        Annotated[list[ToolName], Field(max_length=200)] | None,
    ),
    "limits.agents_per_key": _setting(
        20, "How many agents one API key may own", Annotated[int, Field(ge=1, le=10_000)]
    ),
    "tool_permissions": _setting(
        {},
        "Built-in tool groups switched on or off: a missing group is on, except `shell` and `git`, "
        "which stay off until set to true",
        Annotated[dict[ToolName, bool], Field(max_length=100)],
    ),
    "onboarding.completed": _setting(False, "Whether the dashboard's first-run setup was finished", bool),
    **{
        provider_key_setting(slug): _secret(
            f"API key or token for the {slug} provider (overrides the env var)"
        )
        for slug in PROVIDER_KEY_SLUGS
    },
    "voice.stt_provider": _setting(
        None,
        "Speech-to-text provider of voice-service (null: VOICE_STT_PROVIDER)",
        VoiceProvider | None,
        mirror_default=False,
    ),
    "voice.tts_provider": _setting(
        None,
        "Text-to-speech provider of voice-service (null: VOICE_TTS_PROVIDER)",
        VoiceProvider | None,
        mirror_default=False,
    ),
    "voice.tts_voice": _setting(
        None,
        "Voice for speech (empty: the provider's default)",
        Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_.:+\-(), ]*$")] | None,
        mirror_default=False,
    ),
    "voice.tts_speed": _setting(
        None,
        "Speaking rate, 1.0 is normal",
        Annotated[float, Field(ge=0.25, le=4.0)] | None,
        mirror_default=False,
    ),
    "voice.stt_model": _setting(
        None, "Transcription model (empty: the provider's default)", VoiceModel | None, mirror_default=False
    ),
    "voice.tts_model": _setting(
        None, "Speech model (empty: the provider's default)", VoiceModel | None, mirror_default=False
    ),
    "voice.openai_compatible_url": _setting(
        None,
        "Base URL of an OpenAI-compatible audio server (faster-whisper-server, Kokoro-FastAPI…)",
        Annotated[str, Field(max_length=2000, pattern=r"^(https?://[^\s]+)?$")] | None,
        mirror_default=False,
    ),
    "voice.deepgram_api_key": _secret("Deepgram API key used by voice-service"),
    "voice.elevenlabs_api_key": _secret("ElevenLabs API key used by voice-service"),
    "telegram.bot_token": _secret("Telegram bot token (from @BotFather) used by chat-bridge"),
    "telegram.webhook_url": _setting(
        None,
        "Public https URL Telegram posts updates to (empty: chat-bridge polls; null: TELEGRAM_WEBHOOK_URL)",
        Annotated[str, Field(max_length=2000, pattern=r"^(https://[^\s]+)?$")] | None,
        mirror_default=False,
    ),
    "telegram.allowed_user_ids": _setting(
        None,
        "Telegram users chat-bridge answers (null: TELEGRAM_ALLOWED_USER_IDS)",
        ChatIds,
        mirror_default=False,
    ),
    "telegram.allowed_chat_ids": _setting(
        None,
        "Telegram chats chat-bridge answers in (null: TELEGRAM_ALLOWED_CHAT_IDS)",
        ChatIds,
        mirror_default=False,
    ),
    "slack.bot_token": _secret("Slack bot token (xoxb-…) used by chat-bridge"),
    "slack.app_token": _secret("Slack app-level token (xapp-…) for Socket Mode"),
    "slack.signing_secret": _secret("Slack signing secret for the Events API"),
    "slack.allowed_team_ids": _setting(
        None,
        "Slack workspaces chat-bridge answers (null: SLACK_ALLOWED_TEAM_IDS)",
        ChatIds,
        mirror_default=False,
    ),
    "slack.allowed_channel_ids": _setting(
        None,
        "Slack channels chat-bridge answers in (null: SLACK_ALLOWED_CHANNEL_IDS)",
        ChatIds,
        mirror_default=False,
    ),
}


def is_reserved(key: str) -> bool:
    return key.startswith(RESERVED_PREFIXES)


def _check_storable(key: str, value: Any, description: str | None) -> None:
    """PostgreSQL's JSONB and TEXT refuse NaN, infinities and NUL characters: a 422 here, not a 500 there."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise InvalidSetting(f"{key}: numbers must be finite (no NaN or Infinity)") from exc
    if _has_nul(value) or (description is not None and "\x00" in description):
        raise InvalidSetting(f"{key}: text may not contain NUL characters")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _rule_broken(key: str, exc: ValidationError) -> InvalidSetting:
    error = exc.errors()[0]
    # A union's member names also appear in `loc`; list positions and dict keys are what help the reader.
    positions = [str(part) for part in error.get("loc", ()) if isinstance(part, int)]
    where = f" (item {'.'.join(positions)})" if positions else ""
    return InvalidSetting(f"{key}: {error['msg']}{where}")


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
            if setting is None:
                raise NotFound(f"config key {key!r} not found")
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
        keys = sorted((set(KNOWN_SETTINGS) | set(rows)) - {k for k in rows if is_reserved(k)})
        return [self._entry(k, rows.get(k)) for k in keys]

    async def entry(self, key: str) -> ConfigEntry:
        self._refuse_reserved(key)
        rows = await self._load()
        if key not in rows and key not in KNOWN_SETTINGS:
            raise NotFound(f"config key {key!r} not found")
        return self._entry(key, rows.get(key))

    async def value(self, key: str) -> Any:
        rows = await self._load()
        if key in rows and self._valid_stored(key, rows[key]["value"]):
            return rows[key]["value"]
        return KNOWN_SETTINGS[key].default

    @staticmethod
    def _valid_stored(key: str, value: Any) -> bool:
        """False for a value stored before its key was typed that breaks today's rule: readers get the
        default instead (the row is kept, and shown, until an admin replaces or removes it)."""
        setting = KNOWN_SETTINGS.get(key)
        if setting is None or value is None:
            return True
        try:
            setting.type.validate_python(value)
        except ValidationError:
            log.warning("platform_config_stored_value_invalid", key=key)
            return False
        return True

    @staticmethod
    def _refuse_reserved(key: str) -> None:
        if is_reserved(key):
            raise Forbidden(
                f"{key!r} is reserved: `auth.*` is managed by its own endpoints, not /api/v1/config"
            )

    async def update(
        self, key: str, update: ConfigUpdate, *, models: ModelCatalog | None = None
    ) -> ConfigEntry:
        """Validate, store and mirror one value; `models` is asked when a model setting names a local model."""
        self._refuse_reserved(key)
        rows = await self._load()
        value = update.value
        _check_storable(key, value, update.description)
        if value is not None:
            value = await self._validated(key, value, models)
        elif key not in KNOWN_SETTINGS and key not in rows:
            # A null for a stray row (written before keys were typed) is allowed: it is how the row goes.
            raise NotFound(f"config key {key!r} not found")
        secret = self._is_secret(key, rows.get(key))
        if value is None:
            # Null means "not set": the row goes, so the key reads as its default (or disappears) again, and
            # every mirror follows: the default where it is mirrored, otherwise no Redis key at all.
            await self.repository.delete(key)
            self._loaded_at = float("-inf")
            await self._mirror([(key, self._mirrored_default(key), secret)])
            log.info("platform_config_cleared", key=key)
            if key not in KNOWN_SETTINGS:
                return ConfigEntry(key=key, value=None, is_secret=secret)
            return self._entry(key, None)
        row = await self.repository.upsert(key, value, update.description, is_secret=secret)
        self._loaded_at = float("-inf")
        await self._mirror([(key, value, secret)])
        log.info("platform_config_updated", key=key, secret=secret)
        return self._entry(key, {**dict(row), "value": json.loads(row["value"])})

    async def _validated(self, key: str, value: Any, models: ModelCatalog | None) -> Any:
        """`value` in its stored JSON form, or the error naming the key and the rule it breaks."""
        setting = KNOWN_SETTINGS.get(key)
        if setting is None:
            if not key.startswith(EXTENSION_PREFIX):
                raise NotFound(
                    f"unknown config key {key!r}: GET /api/v1/config lists the known keys; "
                    f"settings of your own go under {EXTENSION_PREFIX!r}"
                )
            if len(json.dumps(value)) > MAX_EXTENSION_JSON_CHARS:
                raise InvalidSetting(f"{key}: at most {MAX_EXTENSION_JSON_CHARS} characters of JSON")
            return value
        try:
            value = setting.type.dump_python(setting.type.validate_python(value), mode="json")
        except ValidationError as exc:
            raise _rule_broken(key, exc) from exc
        if isinstance(value, str) and value.startswith("••••"):
            raise InvalidSetting(f"{key}: send the secret itself, not its masked form")
        if setting.model_id:
            await self._check_model(key, value, models)
        if key.startswith("context.") and key.endswith("_pct"):
            await self._check_context_total(key, value)
        return value

    @staticmethod
    def _mirrored_default(key: str) -> Any:
        setting = KNOWN_SETTINGS.get(key)
        if setting is None or not setting.mirror_default:
            return None
        return setting.type.dump_python(setting.default, mode="json")

    async def _check_model(self, key: str, model: str, models: ModelCatalog | None) -> None:
        """A cloud id is checked by its form; anything else names a local model, which the gateway must list."""
        if re.fullmatch(CLOUD_MODEL_ID_PATTERN, model):
            return
        if models is None:
            raise InvalidSetting(
                f"{key}: {model!r} can only be checked against the gateway's model list; name a cloud model "
                f"as <provider>/<model> ({', '.join(CLOUD_MODEL_PROVIDERS)})"
            )
        known = await models.ids()
        bare = next((model.removeprefix(p) for p in LOCAL_MODEL_PREFIXES if model.startswith(p)), model)
        if model not in known and bare not in known:
            raise InvalidSetting(
                f"{key}: {model!r} is neither <provider>/<model> with a known provider "
                f"({', '.join(CLOUD_MODEL_PROVIDERS)}) nor a model the gateway lists now (GET /v1/models)"
            )

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
            raise InvalidSetting(
                f"{key}: context shares would add up to {sum(shares.values())} %, more than 100 %"
            )

    async def sync_to_redis(self) -> int:
        """Mirror every value to Redis DB 1 (defaults only where `mirror_default`); returns how many.

        Only known and `ext.` keys: a stray row (an `auth.*` key written before keys were typed) must not
        overwrite what another part of Nova keeps under that Redis key, such as the rotated admin secret.
        """
        rows = await self._load()
        items = [
            (
                key,
                rows[key]["value"]
                if key in rows and self._valid_stored(key, rows[key]["value"])
                else self._mirrored_default(key),
                self._is_secret(key, rows.get(key)),
            )
            for key in sorted(set(KNOWN_SETTINGS) | set(rows))
            if (key in KNOWN_SETTINGS or key.startswith(EXTENSION_PREFIX))
            and (key in rows or KNOWN_SETTINGS[key].mirror_default)
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
