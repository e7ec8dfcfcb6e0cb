"""chat-api settings, read from the environment and `.env`."""

from functools import lru_cache

from nova_common.config import NovaSettings


class Settings(NovaSettings):
    service_name: str = "chat-api"
    port: int = 8080


@lru_cache
def get_settings() -> Settings:
    return Settings()
