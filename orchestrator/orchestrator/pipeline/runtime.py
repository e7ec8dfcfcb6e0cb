"""The pipeline's runtime: services on `app.state.pipeline`, worker, heartbeat, cancel listener and reaper loops."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI

from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.loops import BackgroundLoops
from orchestrator.pipeline.agents.runner import AgentRunner
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.executor import PipelineExecutor
from orchestrator.pipeline.pods.repository import PodRepository
from orchestrator.pipeline.pods.service import PodService
from orchestrator.pipeline.queue import TaskQueue
from orchestrator.pipeline.reaper import Reaper
from orchestrator.pipeline.repository import PipelineRepository
from orchestrator.pipeline.service import PipelineService
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.pipeline.worker import PipelineWorker

log = structlog.get_logger("orchestrator.pipeline")


@dataclass
class PipelineRuntime:
    service: PipelineService
    pods: PodService
    worker: PipelineWorker | None
    reaper: Reaper


@asynccontextmanager
async def pipeline_runtime(
    app: FastAPI,
    *,
    pg: asyncpg.Pool,
    redis: aioredis.Redis,
    gateway: LlmGatewayClient,
    settings: PipelineSettings | None = None,
) -> AsyncIterator[PipelineRuntime]:
    """Seed the pod presets, expose the services on `app.state.pipeline`, run the loops until exit.

    Expects the migrations (050_pipeline.sql) applied. On exit the worker hands its running tasks back to
    the queue, so a restart resumes them from their checkpoints at once rather than after the stale timeout.
    """
    settings = settings or PipelineSettings()
    repository = PipelineRepository(pg)
    queue = TaskQueue(redis)
    publisher = ProgressPublisher(redis)
    pods = PodService(PodRepository(pg))
    seeded = await pods.seed_presets()
    if seeded:
        log.info("pod_presets_seeded", pods=seeded)
    executor = PipelineExecutor(
        repository, AgentRunner(gateway, timeout_seconds=settings.llm_timeout_seconds), publisher, settings
    )
    worker = (
        PipelineWorker(repository, queue, executor, publisher, settings) if settings.workers_enabled else None
    )
    reaper = Reaper(repository, queue, publisher, settings, owner=worker.worker_id if worker else "api-only")
    runtime = PipelineRuntime(
        service=PipelineService(repository, queue, pods, publisher, settings),
        pods=pods,
        worker=worker,
        reaper=reaper,
    )
    app.state.pipeline = runtime
    loops = BackgroundLoops()
    if worker is not None:
        loops.forever("pipeline-worker", worker.fetch_forever, backoff=1.0)
        loops.every("pipeline-heartbeat", settings.heartbeat_seconds, worker.heartbeat)
        loops.forever("pipeline-cancel-listener", worker.listen_for_cancellations, backoff=1.0)
    loops.every("pipeline-reaper", settings.reaper_seconds, reaper.sweep)
    try:
        yield runtime
    finally:
        await loops.stop()
        if worker is not None:
            await worker.stop()
