"""recovery settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import AliasChoices, Field

from nova_common.config import DatabaseSettings


class Settings(DatabaseSettings):
    service_name: str = "recovery"
    port: int = 8888
    dashboard_url: str = "http://127.0.0.1:3000"
    # Which opt-in services are expected to run (Compose profiles, or NOVA_PROFILES under `make run`).
    profiles: str = Field(default="", validation_alias=AliasChoices("NOVA_PROFILES", "COMPOSE_PROFILES"))
    probe_timeout_seconds: float = Field(default=2.0, gt=0, le=30)


@lru_cache
def get_settings() -> Settings:
    return Settings()
