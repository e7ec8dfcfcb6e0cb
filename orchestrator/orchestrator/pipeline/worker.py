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

from nova_common.maintenance import MaintenanceFlag
from nova_contracts.orchestrator import PipelineTaskState
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.executor import PipelineExecutor, claim_target
from orchestrator.pipeline.queue import CANCEL_CHANNEL, TaskQueue
from orchestrator.pipeline.repository import Claim, Fence, Hop, PipelineRepository
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.pipeline.state import RUNNING_STATES

log = structlog.get_logger("orchestrator.pipeline.worker")
S = PipelineTaskState


def _repeats(task_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Every occurrence of an id after its first."""
    seen: set[uuid.UUID] = set()
    repeats = []
    for task_id in task_ids:
        if task_id in seen:
            repeats.append(task_id)
        seen.add(task_id)
    return repeats


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
        maintenance: MaintenanceFlag | None = None,
    ) -> None:
        self.repository = repository
        self.maintenance = maintenance
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
            if self.maintenance is not None:
                await self.maintenance.wait_until_clear()  # a restore is replacing the data: claim nothing
            slots = await self._free_slots()
            try:
                task_ids = await self.queue.take_waiting(self.worker_id, slots)
                if not task_ids:
                    # Nothing waiting: block for one id; a burst behind it is taken in batches next time round.
                    self._release(slots - 1)
                    slots = 1
                    task_id = await self.queue.take(self.worker_id, self.settings.pop_timeout_seconds)
                    task_ids = [task_id] if task_id is not None else []
            except BaseException:
                self._release(slots)
                raise
            unique = list(dict.fromkeys(task_ids))
            self._release(slots - len(unique))
            if len(unique) < len(task_ids):
                # The same id pushed twice (the reaper re-pushes generously): one copy is enough.
                await self.queue.done(self.worker_id, *_repeats(task_ids))
            if unique:
                if self.maintenance is not None:
                    # Taken while blocked before the flag went up: it waits here, in this worker's list.
                    await self.maintenance.wait_until_clear()
                handler = asyncio.create_task(self._claim_and_run(unique))
                self._handlers.add(handler)
                handler.add_done_callback(self._handlers.discard)

    async def _free_slots(self) -> int:
        """Wait for one free slot, then take every other free one up to the claim batch size."""
        await self._slots.acquire()
        slots = 1
        while slots < self.settings.claim_batch and not self._slots.locked():
            await self._slots.acquire()
            slots += 1
        return slots

    def _release(self, slots: int) -> None:
        for _ in range(slots):
            self._slots.release()

    async def _claim_and_run(self, task_ids: list[uuid.UUID]) -> None:
        """Claim a batch of ids, then run each task won in its own asyncio task.

        Tasks with an empty checkpoint are claimed by one statement that needs no read first; the others
        (resumed, clarified, approved) are read and claimed into their first unfinished stage. Each id holds
        one slot until its task is done; ids not won (done, cancelled, claimed by another worker) give
        theirs back at once."""
        claimed: list[dict[str, Any]] = []
        try:
            claimed = await self.repository.claim_fresh(self.worker_id, task_ids)
            fresh = {task["id"] for task in claimed}
            rest = [t for t in task_ids if t not in fresh]
            if rest:
                claims = []
                for task in await self.repository.queued(rest):
                    stage, state = claim_target(task)
                    claims.append(Claim(task["id"], state, stage, task["attempts"]))
                if claims:
                    claimed += await self.repository.claim(self.worker_id, claims)
        except Exception:
            log.exception("pipeline_claim_failed", tasks=len(task_ids))
            won = {task["id"] for task in claimed}
            # Back in the queue: ids left in a live worker's processing list would never be re-pushed.
            try:
                await self.queue.push(*(t for t in task_ids if t not in won))
            except Exception:
                log.warning("pipeline_ids_not_given_back", tasks=len(task_ids))
        won = {task["id"] for task in claimed}
        self._release(sum(1 for t in task_ids if t not in won))
        # Postgres now knows where each of these tasks is (a claimed one's heartbeat covers a crash from here
        # on), so their processing entries go; the claims are announced at the same time.
        await asyncio.gather(
            self._forget(*task_ids),
            self.publisher.publish_many(
                [(t["id"], S.QUEUED, [Hop(S(t["status"]), t["current_stage"])]) for t in claimed]
            ),
        )
        for task in claimed:
            fence = Fence(self.worker_id, task["attempts"])
            run = asyncio.create_task(self._run(task, fence))
            # Registered before the task starts, so heartbeats, cancellation and shutdown all see it.
            self._running[task["id"]] = (run, fence)

    async def _run(self, task: dict[str, Any], fence: Fence) -> None:
        task_id: uuid.UUID = task["id"]
        try:
            await self.executor.run(task, fence)
        except asyncio.CancelledError:
            if task_id not in self._cancelled:
                raise
            log.info("pipeline_task_abandoned_on_cancel", task_id=str(task_id))
        except Exception:
            # The task stays in its running state; the reaper re-queues it once its heartbeat is stale.
            log.exception("pipeline_task_crashed", task_id=str(task_id))
        finally:
            self._running.pop(task_id, None)
            self._cancelled.discard(task_id)
            self._slots.release()

    async def _forget(self, *task_ids: uuid.UUID) -> None:
        """Drop ids from this worker's processing list once Postgres says where their tasks are."""
        try:
            await self.queue.done(self.worker_id, *task_ids)
        except Exception:
            log.warning("processing_list_cleanup_failed", tasks=len(task_ids))

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
        # Claims in flight register their tasks as running (or give their ids back) before we look.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        entries = list(self._running.items())
        for _, (run, _) in entries:
            run.cancel()
        await asyncio.gather(*(run for _, (run, _) in entries), return_exceptions=True)
        # Writes of the abandoned stages either land now or not at all, before the state is read below.
        await self.executor.writer.drain()
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
