"""knowledge-worker settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import Field

from nova_common.config import NovaSettings


class Settings(NovaSettings):
    service_name: str = "knowledge-worker"
    port: int = 8120

    poll_interval_seconds: float = Field(default=30.0, gt=0)
    concurrent_crawls: int = Field(default=2, ge=1, le=10)
    # Politeness: one request per second per host, robots.txt included.
    per_host_interval_seconds: float = Field(default=1.0, ge=0)
    fetch_timeout_seconds: float = Field(default=15.0, gt=0)
    max_page_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    user_agent: str = "Nova-Knowledge/1.0"
    robots_agent: str = "Nova"
    # Link scoring through llm-gateway; off, or after the breaker opens, a heuristic decides.
    llm_link_scoring: bool = True
    link_batch_size: int = Field(default=20, ge=1, le=100)
    relevance_threshold: float = Field(default=0.4, ge=0, le=1)
    max_llm_calls_per_crawl: int = Field(default=30, ge=0)
    breaker_failures: int = Field(default=3, ge=1)
    scoring_timeout_seconds: float = Field(default=60.0, gt=0)
    github_api_url: str = "https://api.github.com"
    github_readmes: int = Field(default=10, ge=0, le=50)
    credential_check_interval_seconds: float = Field(default=600.0, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
