"""Pipeline settings: the `pipeline` part of the orchestrator's one `Settings` (the seed's queue numbers are
the defaults). Each field is read from `PIPELINE_<FIELD>` in the environment or `.env`, as before."""

from pydantic import BaseModel, Field


class PipelineSettings(BaseModel):
    """`Settings().pipeline`; `create_app(Settings(pipeline=PipelineSettings(...)))` sets it in code."""

    # False turns this process into an API-only orchestrator: it accepts tasks, others run them.
    workers_enabled: bool = True
    # Tasks one worker process runs at once. Stages wait on model calls and share one writer connection
    # (writer.py), so this bounds open work (concurrent model calls), not CPU or connections. Chosen by
    # `bench/queue_throughput.py`'s interleaved sweep (2-core host): no-op tasks end to end rise from ~580/s
    # at 16 and ~700/s at 32 to ~1,000/s at 128, then stay within the noise up to 512 and fall at 1,024;
    # and with 64 one-second model calls queued first, 16 or 32 slots are all held by those long tasks, so
    # short ones behind them crawl (~275/s at 32, ~780/s at 128), while the long tasks' own end-to-end p50
    # is lowest at 128 (1.4-1.7 s for a 1 s call) and grows past it. 128 is the smallest value on the plateau:
    # lower it for a provider's rate limit or a local model with few parallel slots.
    worker_concurrency: int = Field(default=128, ge=1, le=4096)
    # Queued ids one worker takes in one Redis call and claims in one statement. Smaller than the
    # concurrency, so the next claim overlaps the writes of the tasks claimed before it.
    claim_batch: int = Field(default=64, ge=1, le=1024)
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
    # Pods are cached per process for routing; a change clears every cache at once (pub/sub), this bounds a missed one.
    pod_cache_seconds: float = Field(default=30.0, ge=0)
    llm_timeout_seconds: float = Field(default=120.0, gt=0)
    # Tool rounds of one stage (model calls that ask for tools); past them the model answers without tools.
    max_tool_rounds: int = Field(default=8, ge=0, le=50)
