"""cortex settings, read from the environment and `.env`."""

from functools import lru_cache

from pydantic import Field

from nova_common.config import NovaSettings


class Settings(NovaSettings):
    service_name: str = "cortex"
    port: int = 8100

    # Off: the service answers its routes but the loop never acts (a stack without autonomy).
    cortex_enabled: bool = True
    cortex_daily_budget_usd: float = Field(default=5.0, ge=0)
    # How long the loop blocks on its stimulus list: short while there is work, doubling up to the idle
    # interval when there is none, so an idle Nova wakes a few times an hour (a stimulus wakes it at once).
    cortex_active_interval: float = Field(default=5.0, gt=0, le=3600)
    cortex_idle_interval: float = Field(default=300.0, gt=0, le=3600)
    # While attempts are in flight the loop looks at them at least this often (their end also wakes it).
    cortex_task_poll_interval: float = Field(default=15.0, gt=0, le=3600)
    cortex_stimulus_batch: int = Field(default=50, ge=1, le=1000)
    cortex_max_in_flight: int = Field(default=3, ge=1, le=100)
    # The same approach failing this many times in a row pauses the goal and asks the person.
    cortex_stuck_threshold: int = Field(default=3, ge=2, le=100)
    # An attempt whose task has not finished after this long is cancelled and counted as timed out.
    cortex_task_timeout_seconds: float = Field(default=3600.0, gt=0)
    # Only one cortex acts cluster-wide: the holder renews its lease every third of this.
    cortex_lease_seconds: float = Field(default=15.0, ge=1, le=600)
    cortex_memory_enabled: bool = True
    cortex_llm_timeout_seconds: float = Field(default=120.0, gt=0)
    cortex_goal_page_size: int = Field(default=200, ge=1, le=200)


@lru_cache
def get_settings() -> Settings:
    return Settings()
