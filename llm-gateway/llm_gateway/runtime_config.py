"""Runtime configuration in Redis DB 1 (`nova:config:*`), overlaid on the env defaults, re-read every few seconds.

Recovery and the dashboard write these keys; the gateway never needs a restart to follow them. Values may be
plain strings or JSON-encoded strings (the orchestrator stores JSON), so both are accepted.

Provider credentials entered in the dashboard arrive the same way, under `nova:config:llm.api_key.<slug>`, sealed
by the orchestrator (`nova_common.secretbox`). They are read in the same MGET and kept sealed here; the provider
registry opens them.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import redis.asyncio as aioredis
import structlog

from llm_gateway.config import Settings
from nova_contracts.cortex import BUDGET_TIER_CONFIG_KEY, BudgetTier
from nova_contracts.llm import GatewayConfigUpdate, InferenceBackend, InferenceState, RoutingStrategy
from nova_contracts.orchestrator import PROVIDER_KEY_SLUGS, config_redis_key, provider_key_setting

log = structlog.get_logger("llm_gateway.config")

E = TypeVar("E", RoutingStrategy, InferenceBackend, InferenceState, BudgetTier)

PREFIX = "nova:config:"
KEYS = {
    "routing_strategy": "llm.routing_strategy",
    "default_chat_model": "llm.default_chat_model",
    "inference_backend": "inference.backend",
    "inference_state": "inference.state",
    "inference_url": "inference.url",
    "inference_auth_header": "inference.auth_header",
    # Names the reference implementation used for the custom backend; read as fallbacks.
    "custom_url": "inference.custom_url",
    "custom_auth_header": "inference.custom_auth_header",
    # Published by cortex each cycle; read here to hold cortex's own calls to it (routing/budget.py).
    "budget_tier": BUDGET_TIER_CONFIG_KEY,
}

_CREDENTIAL_REDIS_KEYS = [config_redis_key(provider_key_setting(slug)) for slug in PROVIDER_KEY_SLUGS]


@dataclass(frozen=True)
class RuntimeConfig:
    routing_strategy: RoutingStrategy
    default_chat_model: str
    inference_backend: InferenceBackend
    inference_state: InferenceState
    inference_url: str
    inference_auth_header: str
    # slug -> the Redis text of its dashboard credential, still sealed; slugs without one are absent.
    sealed_credentials: Mapping[str, str] = field(default_factory=dict)
    # cortex's spend tier; None (never published, expired, unreadable) restricts nothing.
    budget_tier: BudgetTier | None = None


def _decode(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


class RuntimeConfigStore:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self._cached: RuntimeConfig | None = None
        self._read_at = 0.0

    def _defaults(self, values: dict[str, str | None], sealed: Mapping[str, str]) -> RuntimeConfig:
        s = self.settings
        strategy = values.get("routing_strategy")
        backend = values.get("inference_backend")
        state = values.get("inference_state")
        url = (
            values.get("inference_url")
            or values.get("custom_url")
            or s.inference_url
            or s.ollama_base_url
            or s.local_model_url
        )
        auth = (
            values.get("inference_auth_header")
            or values.get("custom_auth_header")
            or s.inference_auth_header.get_secret_value()
        )
        return RuntimeConfig(
            routing_strategy=_parse(RoutingStrategy, strategy, s.llm_routing_strategy),
            default_chat_model=values.get("default_chat_model") or s.default_chat_model,
            inference_backend=_parse(InferenceBackend, backend, s.inference_backend),
            inference_state=_parse(InferenceState, state, InferenceState.READY),
            inference_url=url.rstrip("/"),
            inference_auth_header=auth,
            sealed_credentials=sealed,
            budget_tier=_parse_optional(BudgetTier, values.get("budget_tier")),
        )

    async def get(self) -> RuntimeConfig:
        now = time.monotonic()
        if self._cached is not None and now - self._read_at < self.settings.config_refresh_seconds:
            return self._cached
        sealed: dict[str, str] = {}
        try:
            raw = await self.redis.mget([PREFIX + key for key in KEYS.values()] + _CREDENTIAL_REDIS_KEYS)
            plain, credentials = raw[: len(KEYS)], raw[len(KEYS) :]
            values = {
                name: _decode(None if v is None else str(v)) for name, v in zip(KEYS, plain, strict=True)
            }
            sealed = {slug: str(v) for slug, v in zip(PROVIDER_KEY_SLUGS, credentials, strict=True) if v}
        except Exception as exc:
            # Keep serving with the last known (or env) configuration while Redis is away.
            log.warning("runtime_config_read_failed", error=type(exc).__name__)
            values = {}
            if self._cached is not None:
                return self._cached
        self._cached = self._defaults(values, sealed)
        self._read_at = now
        return self._cached

    async def update(self, change: GatewayConfigUpdate) -> RuntimeConfig:
        pipe = self.redis.pipeline(transaction=True)
        for name in change.model_fields_set:
            value = getattr(change, name)
            key = PREFIX + KEYS[name]
            if value is None or value == "":
                pipe.delete(key)
            else:
                pipe.set(key, json.dumps(str(value)))
        await pipe.execute()
        self._cached = None
        return await self.get()


def _parse(enum: type[E], raw: str | None, default: E) -> E:
    if raw is None:
        return default
    try:
        return enum(raw)
    except ValueError:
        log.warning("runtime_config_value_ignored", value=raw, expected=[e.value for e in enum])
        return default


def _parse_optional(enum: type[E], raw: str | None) -> E | None:
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        log.warning("runtime_config_value_ignored", value=raw, expected=[e.value for e in enum])
        return None
