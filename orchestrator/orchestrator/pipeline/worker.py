"""A worker: takes task ids from Redis, claims them in Postgres, runs them with bounded concurrency.

Several workers (in one or many orchestrator processes) share one queue. The claim is a compare-and-set
`queued → <first stage>` that also bumps `attempts`, so of two workers holding the same id only one runs it.
"""

import asyncio
import os
import socket
import uuid
from typing import Any

import structlog

from nova_contracts.orchestrator import PipelineTaskState
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.executor import PipelineExecutor, claim_target
from orchestrator.pipeline.queue import CANCEL_CHANNEL, TaskQueue
from orchestrator.pipeline.repository import Fence, PipelineRepository
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.pipeline.state import RUNNING_STATES

log = structlog.get_logger("orchestrator.pipeline.worker")
S = PipelineTaskState


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class PipelineWorker:
    def __init__(
        self,
        repository: PipelineRepository,
        queue: TaskQueue,
        executor: PipelineExecutor,
        publisher: ProgressPublisher,
        settings: PipelineSettings,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.repository = repository
        self.queue = queue
        self.executor = executor
        self.publisher = publisher
        self.settings = settings
        self.worker_id = worker_id or new_worker_id()
        self._slots = asyncio.Semaphore(settings.worker_concurrency)
        self._running: dict[uuid.UUID, tuple[asyncio.Task[Any], Fence]] = {}
        self._cancelled: set[uuid.UUID] = set()
        self._stopping = False
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> list[uuid.UUID]:
        return list(self._running)

    async def fetch_forever(self) -> None:
        await self.queue.mark_alive(self.worker_id, int(self.settings.stale_seconds) + 1)
        while not self._stopping:
            await self._slots.acquire()
            try:
                task_id = await self.queue.take(self.worker_id, self.settings.pop_timeout_seconds)
            except BaseException:
                self._slots.release()
                raise
            if task_id is None:
                self._slots.release()
                continue
            handler = asyncio.create_task(self._handle(task_id))
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    async def _handle(self, task_id: uuid.UUID) -> None:
        try:
            task = await self.repository.get(task_id)
            if task is None or task["status"] != S.QUEUED.value:
                return  # done, cancelled, or a duplicate id (the reaper re-pushes generously)
            stage, state = claim_target(task)
            fence = Fence(self.worker_id, task["attempts"] + 1)
            claimed = await self.repository.transition(
                task_id, S.QUEUED, state, claim=Fence(self.worker_id, task["attempts"]), stage=stage,
                worker_id=self.worker_id,
            )  # fmt: skip
            if claimed is None:
                return  # another worker won the race
            await self.publisher.publish(task_id, state, previous=S.QUEUED, stage=stage)
            run = asyncio.current_task()
            assert run is not None
            self._running[task_id] = (run, fence)
            try:
                await self.executor.run(claimed, fence)
            except asyncio.CancelledError:
                if task_id not in self._cancelled:
                    raise
                log.info("pipeline_task_abandoned_on_cancel", task_id=str(task_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The task stays in its running state; the reaper re-queues it once its heartbeat is stale.
            log.exception("pipeline_task_crashed", task_id=str(task_id))
        finally:
            self._running.pop(task_id, None)
            self._cancelled.discard(task_id)
            self._slots.release()
            try:
                await self.queue.done(self.worker_id, task_id)
            except Exception:
                log.warning("processing_list_cleanup_failed", task_id=str(task_id))

    async def heartbeat(self) -> None:
        """Prove this worker and each of its running tasks alive (the reaper's 150 s clock restarts)."""
        await self.queue.mark_alive(self.worker_id, int(self.settings.stale_seconds) + 1)
        if self._running:
            await self.repository.heartbeat(self.worker_id, list(self._running))

    async def listen_for_cancellations(self) -> None:
        """Abandon a cancelled task's running stage (its model call included) as soon as the signal arrives."""
        pubsub: Any = self.queue.redis.pubsub()
        await pubsub.subscribe(CANCEL_CHANNEL)
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if message is None or message.get("type") != "message":
                    continue
                try:
                    task_id = uuid.UUID(message["data"])
                except ValueError:
                    continue
                self.abandon(task_id)
        finally:
            await pubsub.aclose()

    def abandon(self, task_id: uuid.UUID) -> bool:
        entry = self._running.get(task_id)
        if entry is None:
            return False
        self._cancelled.add(task_id)
        entry[0].cancel()
        return True

    async def stop(self) -> None:
        """Stop taking work; hand running tasks back to the queue so another worker resumes them now."""
        self._stopping = True
        entries = list(self._running.items())
        for _, (run, _) in entries:
            run.cancel()
        await asyncio.gather(*(run for _, (run, _) in entries), return_exceptions=True)
        for task_id, (_, fence) in entries:
            try:
                task = await self.repository.get(task_id)
                if task is None or S(task["status"]) not in RUNNING_STATES:
                    continue
                moved = await self.repository.transition(
                    task_id, S(task["status"]), S.QUEUED, fence=fence, detail="worker shut down"
                )
                if moved is not None:
                    await self.queue.push(task_id)
            except Exception:
                log.exception("pipeline_requeue_on_shutdown_failed", task_id=str(task_id))
        await self.queue.forget_worker(self.worker_id)
