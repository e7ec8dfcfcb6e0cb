"""cortex settings, read from the environment and `.env`."""

from functools import lru_cache

from nova_common.config import DatabaseSettings


class Settings(DatabaseSettings):
    service_name: str = "cortex"
    port: int = 8100


@lru_cache
def get_settings() -> Settings:
    return Settings()
