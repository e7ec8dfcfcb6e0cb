"""Pipeline settings: the `pipeline` part of the orchestrator's one `Settings` (the seed's queue numbers are
the defaults). Each field is read from `PIPELINE_<FIELD>` in the environment or `.env`, as before."""

from pydantic import BaseModel, Field


class PipelineSettings(BaseModel):
    """`Settings().pipeline`; `create_app(Settings(pipeline=PipelineSettings(...)))` sets it in code."""

    # False turns this process into an API-only orchestrator: it accepts tasks, others run them.
    workers_enabled: bool = True
    # Tasks one worker process runs at once. Stages wait on model calls and share one writer connection
    # (writer.py), so this bounds open work (concurrent model calls), not CPU or connections. Chosen by
    # `bench/queue_throughput.py`'s interleaved sweep (2-core host, four runs): no-op tasks end to end rise
    # from ~800/s at 16-32 to a plateau of ~1,100-1,200/s from 128 on. With 64 one-second model calls
    # queued first, those long tasks hold every slot at 16-32 and the short ones behind them crawl (~170-290/s);
    # the short ones' rate grows with the slots left free (~860/s at 128, ~980/s at 256, ~1,170/s at 512),
    # while the long tasks' own p50 stays 1.3-1.6 s up to 512 and degrades at 1,024 (2.2 s). 256 is on the
    # plateau for both, with half the concurrent model calls of 512; lower it for a provider's rate limit or a
    # local model with few parallel slots.
    worker_concurrency: int = Field(default=256, ge=1, le=4096)
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
