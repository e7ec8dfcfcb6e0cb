"""The pipeline's runtime: services on `app.state.pipeline`, worker, heartbeat, cancel listener and reaper loops."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI

from nova_common.loops import BackgroundLoops
from nova_common.maintenance import MaintenanceFlag
from nova_contracts.goals import StimulusType
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.pipeline.agents.recall import ContextRecall
from orchestrator.pipeline.agents.runner import PipelineStageRunner
from orchestrator.pipeline.agents.tools import PipelineToolbox
from orchestrator.pipeline.events import FinishedHook, ProgressPublisher
from orchestrator.pipeline.executor import PipelineExecutor
from orchestrator.pipeline.pods.repository import PodRepository
from orchestrator.pipeline.pods.service import PodService
from orchestrator.pipeline.queue import TaskQueue
from orchestrator.pipeline.reaper import Reaper
from orchestrator.pipeline.repository import PipelineRepository
from orchestrator.pipeline.service import PipelineService
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.pipeline.worker import PipelineWorker
from orchestrator.pipeline.writer import TaskWriter

log = structlog.get_logger("orchestrator.pipeline")


@dataclass
class PipelineRuntime:
    service: PipelineService
    pods: PodService
    worker: PipelineWorker | None
    reaper: Reaper


def goal_task_notices(app: FastAPI, repository: PipelineRepository) -> FinishedHook | None:
    """Tell cortex (a `task.finished` stimulus) when a task that is an attempt at a goal ends."""
    services = getattr(app.state, "services", None)
    if services is None:
        return None
    goals = services.goals

    async def notify(task_ids: list[uuid.UUID]) -> None:
        for row in await repository.finished_goal_tasks(task_ids):
            await goals.notify(
                StimulusType.TASK_FINISHED,
                row["goal_id"],
                task_id=str(row["id"]),
                status=row["status"],
                cost_usd=float(row["cost_usd"] or 0),
            )

    return notify


def toolbox_of_agent_turns(app: FastAPI) -> PipelineToolbox | None:
    """The tool service, sandbox roots and memory client the lifespan wired for chat agent turns, if any."""
    services = getattr(app.state, "services", None)
    if services is None:
        return None
    settings = app.state.settings
    turns = services.runner
    return PipelineToolbox(
        tools=services.tools,
        memory=turns.memory,
        sandboxes=turns.sandboxes,
        shell_timeout=settings.shell_timeout_seconds,
        web_fetch=turns.web_fetch,
        list_agents=services.agents.list,
        service_health=turns.service_health,
    )


@asynccontextmanager
async def pipeline_runtime(
    app: FastAPI,
    *,
    pg: asyncpg.Pool,
    redis: aioredis.Redis,
    gateway: LlmGatewayClient,
    settings: PipelineSettings,
    toolbox: PipelineToolbox | None = None,
    memory: MemoryServiceClient | None = None,
) -> AsyncIterator[PipelineRuntime]:
    """Seed the pod presets, expose the services on `app.state.pipeline`, run the loops until exit.

    Expects the migrations (050, 051) applied. On exit the worker hands its running tasks back to
    the queue, so a restart resumes them from their checkpoints at once rather than after the stale timeout.
    Stage tools and the Context agent's memories come from `toolbox` and `memory`, else from the services
    the orchestrator's lifespan built for agent turns (`app.state.services`).
    """
    toolbox = toolbox or toolbox_of_agent_turns(app)
    memory = memory or (toolbox.memory if toolbox else None)
    repository = PipelineRepository(pg)
    queue = TaskQueue(redis)
    publisher = ProgressPublisher(redis)
    publisher.on_finished = goal_task_notices(app, repository)
    pods = PodService(PodRepository(pg), redis, cache_seconds=settings.pod_cache_seconds)
    seeded = await pods.seed_presets()
    if seeded:
        log.info("pod_presets_seeded", pods=seeded)
    writer = TaskWriter(pg, publisher)
    executor = PipelineExecutor(
        repository,
        PipelineStageRunner(
            gateway, timeout_seconds=settings.llm_timeout_seconds, max_tool_rounds=settings.max_tool_rounds
        ),
        publisher,
        settings,
        writer=writer,
        recall=ContextRecall(memory, repository),
        toolbox=toolbox,
    )
    # recovery's flag during a restore: the worker claims nothing and the reaper skips until it goes.
    maintenance = MaintenanceFlag.for_stack(app.state.settings.redis_url)
    worker = (
        PipelineWorker(repository, queue, executor, publisher, settings, maintenance=maintenance)
        if settings.workers_enabled
        else None
    )
    reaper = Reaper(
        repository,
        queue,
        publisher,
        settings,
        owner=worker.worker_id if worker else "api-only",
        maintenance=maintenance,
    )
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
    loops.forever("pipeline-pod-changes", pods.listen_for_changes, backoff=1.0)
    try:
        yield runtime
    finally:
        await loops.stop()
        if worker is not None:
            await worker.stop()
        await writer.aclose()
        await maintenance.aclose()
