"""chat-bridge settings, read from the environment and `.env`.

Tokens and allow-lists set by the admin in the orchestrator's `platform_config` (`telegram.bot_token`,
`slack.allowed_channel_ids`…) take precedence over these; see `platform_settings.py`. With no allow-list at
all the bridge serves nobody: it tells each chat once how its owner can allow it.
"""

import json
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from nova_common.config import NovaSettings

# An id list from the environment: `123,456` or a JSON list `["123", 456]`.
IdList = Annotated[list[str], NoDecode]
# The tools the bridge's agent may use: memory and the web, never the shell, git or the filesystem (anyone
# in an allowed chat talks to it). Tool or group names as an agent's `tools` list takes them.
SAFE_BRIDGE_TOOLS = ["search_memory", "save_fact", "web_fetch"]


class Settings(NovaSettings):
    service_name: str = "chat-bridge"
    port: int = 8090

    # The key the bridge sends the orchestrator (empty: none, for an install with REQUIRE_AUTH off).
    nova_api_key: SecretStr = Field(default=SecretStr(""), alias="NOVA_API_KEY")
    default_agent_name: str = "Nova"
    default_model: str | None = None
    # The admin grants more (files, shell, git) by listing them here; an empty list would mean "every tool"
    # to the orchestrator, so it is refused.
    bridge_agent_tools: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(SAFE_BRIDGE_TOOLS), min_length=1
    )
    # A chat that is not allowed is told so once in this long, not at every message.
    refusal_repeat_seconds: int = Field(default=24 * 3600, ge=60)
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    platform_config_cache_seconds: float = Field(default=30.0, ge=0)

    telegram_bot_token: SecretStr = SecretStr("")
    # Public base URL of this service; set it to receive updates by webhook instead of long polling.
    telegram_webhook_url: str = ""
    # Checked against Telegram's X-Telegram-Bot-Api-Secret-Token header; derived from the token when empty.
    telegram_webhook_secret: SecretStr = SecretStr("")
    # A local Bot API server (or the test fake) instead of api.telegram.org.
    telegram_api_url: str = "https://api.telegram.org/bot"
    # Long-poll length of getUpdates; also how long a stop may wait for the poll in flight.
    telegram_poll_timeout_seconds: float = Field(default=10.0, gt=0)
    telegram_allowed_user_ids: IdList = Field(default_factory=list)
    telegram_allowed_chat_ids: IdList = Field(default_factory=list)

    # Voice messages larger than this are refused before download (Telegram's Bot API serves at most 20 MB;
    # voice-service takes up to VOICE_MAX_UPLOAD_BYTES, 25 MB by default).
    voice_max_clip_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)

    slack_bot_token: SecretStr = SecretStr("")
    # An app-level token (xapp-…) selects Socket Mode; otherwise the Events API is served over HTTP.
    slack_app_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_api_url: str = "https://slack.com/api/"
    slack_allowed_team_ids: IdList = Field(default_factory=list)
    slack_allowed_channel_ids: IdList = Field(default_factory=list)

    @field_validator(
        "bridge_agent_tools",
        "telegram_allowed_user_ids",
        "telegram_allowed_chat_ids",
        "slack_allowed_team_ids",
        "slack_allowed_channel_ids",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        if not value.strip():  # `VAR=` in .env or Compose: as if unset
            return list(SAFE_BRIDGE_TOOLS) if info.field_name == "bridge_agent_tools" else []
        if value.strip().startswith("["):
            return [str(item) for item in json.loads(value)]
        return [item.strip() for item in value.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
