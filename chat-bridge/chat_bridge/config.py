"""chat-bridge settings, read from the environment and `.env`."""

from functools import lru_cache

from nova_common.config import NovaSettings


class Settings(NovaSettings):
    service_name: str = "chat-bridge"
    port: int = 8090


@lru_cache
def get_settings() -> Settings:
    return Settings()
