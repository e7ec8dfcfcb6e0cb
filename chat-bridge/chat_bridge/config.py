"""chat-bridge settings, read from the environment and `.env`.

Tokens and allow-lists set by the admin in the orchestrator's `platform_config` (`telegram.bot_token`,
`slack.allowed_channel_ids`…) take precedence over these; see `platform_settings.py`.
"""

from functools import lru_cache

from pydantic import Field, SecretStr

from nova_common.config import NovaSettings


class Settings(NovaSettings):
    service_name: str = "chat-bridge"
    port: int = 8090

    # The key the bridge sends the orchestrator (empty: none, for an install with REQUIRE_AUTH off).
    nova_api_key: SecretStr = Field(default=SecretStr(""), alias="NOVA_API_KEY")
    default_agent_name: str = "Nova"
    default_model: str | None = None
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
    telegram_allowed_user_ids: list[str] = Field(default_factory=list)
    telegram_allowed_chat_ids: list[str] = Field(default_factory=list)

    slack_bot_token: SecretStr = SecretStr("")
    # An app-level token (xapp-…) selects Socket Mode; otherwise the Events API is served over HTTP.
    slack_app_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_api_url: str = "https://slack.com/api/"
    slack_allowed_team_ids: list[str] = Field(default_factory=list)
    slack_allowed_channel_ids: list[str] = Field(default_factory=list)


@lru_cache
def get_settings() -> Settings:
    return Settings()
