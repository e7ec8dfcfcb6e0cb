"""intel-worker settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import Field

from nova_common.config import NovaSettings


class Settings(NovaSettings):
    service_name: str = "intel-worker"
    port: int = 8110

    poll_interval_seconds: float = Field(default=60.0, gt=0)
    feeds_per_poll: int = Field(default=50, ge=1, le=200)
    fetch_timeout_seconds: float = Field(default=15.0, gt=0)
    # A feed or page bigger than this is refused, not truncated: a cut-off XML document parses as garbage.
    fetch_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Politeness: at least this long between two requests to one host, across all its feeds.
    per_host_interval_seconds: float = Field(default=2.0, ge=0)
    max_items_per_feed: int = Field(default=25, ge=1, le=100)
    user_agent: str = "Nova-Intel/1.0 (+https://github.com/nova)"
    # After storing new items, ask the orchestrator to digest them into recommendations.
    digest_after_poll: bool = True


@lru_cache
def get_settings() -> Settings:
    return Settings()
