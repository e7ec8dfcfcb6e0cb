"""The bridge's effective settings: the environment, overridden by what the admin set in `platform_config`.

The orchestrator mirrors every platform setting into Redis DB 1 (`nova:config:<key>`) on startup and on each
change; bot tokens and signing secrets arrive there sealed with the service token and are opened here
(`nova_common.secretbox`). The bridge never needs the admin secret, so rotating it cannot break the bridge.
"""

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog

from chat_bridge.config import Settings
from nova_common.secretbox import SecretUnreadable, open_config_value
from nova_contracts.orchestrator import config_redis_key, decode_config_value

log = structlog.get_logger("chat_bridge.settings")

BRIDGE_CONFIG_KEYS = (
    "telegram.bot_token",
    "telegram.webhook_url",
    "telegram.allowed_user_ids",
    "telegram.allowed_chat_ids",
    "slack.bot_token",
    "slack.app_token",
    "slack.signing_secret",
    "slack.allowed_team_ids",
    "slack.allowed_channel_ids",
)
SECRET_KEYS = frozenset({"telegram.bot_token", "slack.bot_token", "slack.app_token", "slack.signing_secret"})


def _ids(value: Any) -> frozenset[str]:
    """An allow-list from JSON: a list of ids (numbers or strings) or one comma-separated string."""
    if value is None:
        return frozenset()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    return frozenset(str(item).strip() for item in items if str(item).strip())


@dataclass(frozen=True)
class TelegramConfig:
    bot_token: str
    webhook_url: str
    webhook_secret: str
    api_url: str
    allowed_user_ids: frozenset[str]
    allowed_chat_ids: frozenset[str]

    def allows(self, user_id: str | None, chat_id: str) -> bool:
        """Each non-empty list must contain the sender (a private chat's id is the user's id); with both lists
        empty nobody is served: a bot anyone can find must not hand strangers the owner's agent."""
        if not self.allowed_user_ids and not self.allowed_chat_ids:
            return False
        if self.allowed_user_ids and (user_id is None or user_id not in self.allowed_user_ids):
            return False
        return not self.allowed_chat_ids or chat_id in self.allowed_chat_ids


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str
    app_token: str
    signing_secret: str
    api_url: str
    allowed_team_ids: frozenset[str]
    allowed_channel_ids: frozenset[str]

    def allows(self, team_id: str | None, channel_id: str | None) -> bool:
        """As Telegram's: each non-empty list must contain the sender, and no list at all serves nobody."""
        if not self.allowed_team_ids and not self.allowed_channel_ids:
            return False
        if self.allowed_team_ids and (team_id is None or team_id not in self.allowed_team_ids):
            return False
        return not self.allowed_channel_ids or (
            channel_id is not None and channel_id in self.allowed_channel_ids
        )


@dataclass(frozen=True)
class BridgeConfig:
    telegram: TelegramConfig
    slack: SlackConfig


def build_config(settings: Settings, overrides: dict[str, Any]) -> BridgeConfig:
    def pick(key: str, fallback: Any) -> Any:
        value = overrides.get(key)
        return fallback if value in (None, "", []) else value

    telegram_token = str(pick("telegram.bot_token", settings.telegram_bot_token.get_secret_value()))
    secret = settings.telegram_webhook_secret.get_secret_value() or (
        # Telegram accepts 1-256 characters of [A-Za-z0-9_-]; a hash of the token needs no extra setting.
        hashlib.sha256(f"nova-telegram-webhook:{telegram_token}".encode()).hexdigest()
    )
    return BridgeConfig(
        telegram=TelegramConfig(
            bot_token=telegram_token,
            webhook_url=str(pick("telegram.webhook_url", settings.telegram_webhook_url)),
            webhook_secret=secret,
            api_url=settings.telegram_api_url,
            allowed_user_ids=_ids(pick("telegram.allowed_user_ids", settings.telegram_allowed_user_ids)),
            allowed_chat_ids=_ids(pick("telegram.allowed_chat_ids", settings.telegram_allowed_chat_ids)),
        ),
        slack=SlackConfig(
            bot_token=str(pick("slack.bot_token", settings.slack_bot_token.get_secret_value())),
            app_token=str(pick("slack.app_token", settings.slack_app_token.get_secret_value())),
            signing_secret=str(
                pick("slack.signing_secret", settings.slack_signing_secret.get_secret_value())
            ),
            api_url=settings.slack_api_url,
            allowed_team_ids=_ids(pick("slack.allowed_team_ids", settings.slack_allowed_team_ids)),
            allowed_channel_ids=_ids(pick("slack.allowed_channel_ids", settings.slack_allowed_channel_ids)),
        ),
    )


class PlatformSettings:
    def __init__(
        self,
        *,
        settings_factory: Callable[[], Settings],
        config_redis: aioredis.Redis,
        service_token: str,
        cache_seconds: float,
    ) -> None:
        self._settings_factory = settings_factory
        self._config_redis = config_redis
        self._service_token = service_token
        self._cache_seconds = cache_seconds
        self._current: BridgeConfig | None = None
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def load(self) -> BridgeConfig:
        """Read everything afresh (startup and `POST /reload`)."""
        async with self._lock:
            self._current = build_config(self._settings_factory(), await self._overrides())
            self._loaded_at = time.monotonic()
            return self._current

    async def current(self) -> BridgeConfig:
        """The settings, re-read at most every `cache_seconds` (allow-list changes apply without a reload)."""
        if self._current is None or time.monotonic() - self._loaded_at > self._cache_seconds:
            return await self.load()
        return self._current

    async def _overrides(self) -> dict[str, Any]:
        try:
            raw = await self._config_redis.mget([config_redis_key(k) for k in BRIDGE_CONFIG_KEYS])
        except Exception as exc:
            log.warning("platform_config_unavailable", error=str(exc))
            return {}
        overrides: dict[str, Any] = {}
        for key, value in zip(BRIDGE_CONFIG_KEYS, raw, strict=True):
            if value is None:
                continue
            if key not in SECRET_KEYS:
                overrides[key] = decode_config_value(value)
                continue
            try:
                overrides[key] = open_config_value(value, self._service_token)
            except (SecretUnreadable, ValueError) as exc:
                # Sealed with another NOVA_SERVICE_TOKEN (or written by hand): fall back to the env value.
                log.warning("platform_secret_unreadable", key=key, reason=str(exc))
        return overrides
