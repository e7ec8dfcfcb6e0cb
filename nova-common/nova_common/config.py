"""Settings shared by every service. Each service subclasses `NovaSettings` in its own `config.py`."""

from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nova_common.redis import check_redis_url

# Values that ship in tutorials and old .env files. An admin secret equal to one of these is treated as unset.
WELL_KNOWN_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "admin", "password", "nova", "nova-admin-secret-change-me"}
)
MIN_SECRET_LENGTH = 16

# The names a Nova service answers to out of the box: loopback, the Compose service names (services call
# each other by them) and `*.localhost`, which resolves to loopback on every modern resolver. A browser
# page served from any other name (DNS rebinding) is refused; ALLOWED_HOSTS extends or replaces the list.
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = (
    "localhost",
    "127.0.0.1",
    "::1",
    "orchestrator",
    "llm-gateway",
    "memory-service",
    "chat-api",
    "chat-bridge",
    "cortex",
    "intel-worker",
    "knowledge-worker",
    "voice-service",
    "recovery",
    "dashboard",
    "*.localhost",
)
DEFAULT_MAX_REQUEST_BODY_BYTES = 1024 * 1024


class NovaSettings(BaseSettings):
    """Environment-driven settings; `.env` in the working directory is read too (the file Compose reads)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    service_name: str = "nova"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")

    admin_secret: SecretStr = Field(default=SecretStr(""), alias="NOVA_ADMIN_SECRET")
    service_token: SecretStr = Field(default=SecretStr(""), alias="NOVA_SERVICE_TOKEN")
    # Off only for a single-user machine, and then only for direct loopback callers (see auth.local_caller).
    require_auth: bool = True
    # Comma list of Host names (optionally `*.suffix`); `*` turns the check off, for a proxy of your own.
    allowed_hosts: str = ",".join(DEFAULT_ALLOWED_HOSTS)
    max_request_body_bytes: int = Field(default=DEFAULT_MAX_REQUEST_BODY_BYTES, ge=1024)
    # Comma list of proxy addresses (IPs or CIDRs) whose X-Forwarded-For is logged as the client address.
    # It is only ever logged: a forwarded request never counts as a local one.
    trusted_proxies: str = ""
    # Tests serve fake web sites on 127.0.0.1; nothing else may let the SSRF guard reach loopback.
    ssrf_allow_loopback_for_tests: bool = False
    cors_allowed_origins: str = "http://localhost:3000,http://127.0.0.1:3000,http://localhost:5173"

    redis_url: str = "redis://127.0.0.1:6379/0"

    orchestrator_url: str = "http://127.0.0.1:8000"
    llm_gateway_url: str = "http://127.0.0.1:8001"
    memory_service_url: str = "http://127.0.0.1:8002"
    chat_api_url: str = "http://127.0.0.1:8080"
    chat_bridge_url: str = "http://127.0.0.1:8090"
    cortex_url: str = "http://127.0.0.1:8100"
    intel_worker_url: str = "http://127.0.0.1:8110"
    knowledge_worker_url: str = "http://127.0.0.1:8120"
    voice_service_url: str = "http://127.0.0.1:8130"
    recovery_url: str = "http://127.0.0.1:8888"
    local_model_url: str = "http://127.0.0.1:11434"

    @model_validator(mode="after")
    def _redis_url_names_a_usable_db(self) -> Self:
        check_redis_url(self.service_name, self.redis_url)
        return self

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def allowed_host_patterns(self) -> list[str]:
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def admin_secret_usable(self) -> bool:
        value = self.admin_secret.get_secret_value()
        return len(value) >= MIN_SECRET_LENGTH and value.lower() not in WELL_KNOWN_SECRETS

    @property
    def service_token_usable(self) -> bool:
        value = self.service_token.get_secret_value()
        return len(value) >= MIN_SECRET_LENGTH and value.lower() not in WELL_KNOWN_SECRETS


class DatabaseSettings(NovaSettings):
    """For the services that talk to PostgreSQL (orchestrator, memory-service, cortex, recovery)."""

    database_url: str = "postgresql://nova@127.0.0.1:5432/nova"
    database_pool_min: int = Field(default=1, ge=0, le=100)
    database_pool_max: int = Field(default=10, ge=1, le=200)
