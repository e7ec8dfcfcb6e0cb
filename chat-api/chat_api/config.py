"""chat-api settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import Field, SecretStr

from nova_common.config import NovaSettings
from nova_common.credentials import KEY_CACHE_SECONDS


class Settings(NovaSettings):
    service_name: str = "chat-api"
    port: int = 8080

    # The key chat-api forwards to the orchestrator when the client sent none (REQUIRE_AUTH off).
    nova_api_key: SecretStr = Field(default=SecretStr(""), alias="NOVA_API_KEY")
    default_agent_name: str = "Nova"
    default_model: str | None = None

    ws_max_connections: int = Field(default=100, ge=1)
    ws_max_per_ip: int = Field(default=10, ge=1)
    # A user turn is at most 32,000 characters (nova_contracts.chat); 4 bytes each in UTF-8, plus the envelope.
    ws_max_message_bytes: int = Field(default=131_072, ge=1024)
    ws_idle_timeout_seconds: float = Field(default=300.0, gt=0)
    ws_auth_timeout_seconds: float = Field(default=10.0, gt=0)
    # Protocol-level heartbeat, sent by the WebSocket server itself; a peer that misses a pong is dropped.
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0)
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0)
    # Bytes of frames waiting to be written to one client; a client that lets it fill up is disconnected.
    ws_send_buffer_bytes: int = Field(default=1_048_576, ge=4096)
    ws_max_history: int = Field(default=200, ge=2)
    # User turns waiting for delivery in one session; past it a turn is refused with an error frame, so a
    # client cannot grow Redis without bound while the orchestrator is away or slow.
    ws_max_pending_messages: int = Field(default=100, ge=1)
    # Browser pages allowed to open /ws/chat, besides the dashboard's (CORS_ALLOWED_ORIGINS) and chat-api's
    # own test page: a comma-separated list of origins such as `https://chat.example.com`. A handshake from
    # any other page is refused, so a site the user visits cannot talk to their agent.
    ws_allowed_origins: str = ""

    redis_max_connections: int = Field(default=200, ge=10)
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # How long a key's validation is trusted: the stack's revocation bound (nova_common.credentials).
    key_validation_cache_seconds: float = Field(default=KEY_CACHE_SECONDS, gt=0, le=300)
    # How often sessions with undelivered messages are looked for (after a restart, or for another replica's).
    delivery_sweep_seconds: float = Field(default=5.0, gt=0)
    orchestrator_probe_max_seconds: float = Field(default=5.0, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
