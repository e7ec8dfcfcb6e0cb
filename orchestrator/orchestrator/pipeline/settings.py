"""Pipeline settings, read from `PIPELINE_*` environment variables (the seed's queue numbers are the defaults)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", env_file=".env", extra="ignore")

    # False turns this process into an API-only orchestrator: it accepts tasks, others run them.
    workers_enabled: bool = True
    worker_concurrency: int = Field(default=8, ge=1, le=512)
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    reaper_seconds: float = Field(default=60.0, gt=0)
    stale_seconds: float = Field(default=150.0, gt=0)
    # A task `queued` in Postgres for this long without being in Redis is pushed again (crash after commit,
    # Redis flushed or restarted without persistence).
    requeue_after_seconds: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    # How long a blocking pop waits before the worker loop checks whether it should stop.
    pop_timeout_seconds: int = Field(default=1, ge=1, le=30)
    dead_letter_cap: int = Field(default=10_000, ge=1)
    # The Code Review → Task loop runs at most this many times (the reference's 3).
    max_refactor_iterations: int = Field(default=3, ge=0, le=10)
    llm_timeout_seconds: float = Field(default=120.0, gt=0)
