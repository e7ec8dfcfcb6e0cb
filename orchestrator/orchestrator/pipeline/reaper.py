"""The reaper: every sweep re-queues tasks of dead workers, dead-letters those out of retries, and re-pushes
tasks Postgres says are `queued` but Redis has lost (flushed, restarted without persistence, or a crash
between the commit and the LPUSH)."""

import json

import structlog

from nova_common.maintenance import MaintenanceFlag
from nova_contracts.base import utc_now
from nova_contracts.orchestrator import PipelineTaskState
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.queue import TaskQueue
from orchestrator.pipeline.repository import PipelineRepository
from orchestrator.pipeline.settings import PipelineSettings

log = structlog.get_logger("orchestrator.pipeline.reaper")
S = PipelineTaskState


class Reaper:
    def __init__(
        self,
        repository: PipelineRepository,
        queue: TaskQueue,
        publisher: ProgressPublisher,
        settings: PipelineSettings,
        *,
        owner: str,
        maintenance: MaintenanceFlag | None = None,
    ) -> None:
        self.repository = repository
        self.maintenance = maintenance
        self.queue = queue
        self.publisher = publisher
        self.settings = settings
        self.owner = owner

    async def sweep(self) -> dict[str, int]:
        # During a restore heartbeats stop and the tables are replaced: nothing found then is really stale.
        if self.maintenance is not None and await self.maintenance.holding():
            return {}
        if not await self.queue.acquire_reaper_lock(self.owner, self.settings.reaper_seconds * 0.9):
            return {}
        return {**await self.reap_stale_tasks(), "repushed": await self.repush_lost_tasks()}

    async def reap_stale_tasks(self) -> dict[str, int]:
        requeued = dead = 0
        for task in await self.repository.stale(self.settings.stale_seconds):
            current = S(task["status"])
            who = task["worker_id"] or "unknown worker"
            if task["retries"] < task["max_retries"]:
                detail = (
                    f"heartbeat older than {self.settings.stale_seconds:.0f}s ({who}); "
                    f"retry {task['retries'] + 1} of {task['max_retries']}, resuming from the checkpoint"
                )
                moved = await self.repository.transition(
                    task["id"], current, S.QUEUED, detail=detail, worker_id="reaper", count_retry=True,
                    expect_attempts=task["attempts"],
                )  # fmt: skip
                if moved is not None:
                    await self.queue.push(task["id"])
                    await self.publisher.publish(task["id"], S.QUEUED, previous=current, detail=detail)
                    requeued += 1
            else:
                reason = (
                    f"retries exhausted ({task['retries']} of {task['max_retries']}): heartbeat older than "
                    f"{self.settings.stale_seconds:.0f}s ({who}) in {current.value}"
                )
                moved = await self.repository.dead_letter(task["id"], current, task["attempts"], reason)
                if moved is not None:
                    entry = {"task_id": str(task["id"]), "reason": reason, "at": utc_now().isoformat()}
                    await self.queue.add_dead_letter(json.dumps(entry), self.settings.dead_letter_cap)
                    await self.publisher.publish(task["id"], S.FAILED, previous=current, detail=reason)
                    dead += 1
        if requeued or dead:
            log.warning("pipeline_stale_tasks_reaped", requeued=requeued, dead_lettered=dead)
        return {"requeued": requeued, "dead_lettered": dead}

    async def repush_lost_tasks(self) -> int:
        """Push again every task queued in Postgres for a while that is in no Redis list a live worker reads."""
        # The queue is read before the processing lists: an id moving between them is seen in one of the two.
        present = await self.queue.waiting_ids()
        live = await self.queue.live_workers()
        for worker_id, ids in (await self.queue.processing_lists()).items():
            if worker_id in live:
                present.update(ids)
            else:
                # A worker that died between pop and claim; its queued ids are re-pushed just below.
                await self.queue.drop_processing_list(worker_id)
        lost = [
            t
            for t in await self.repository.queued_since(self.settings.requeue_after_seconds)
            if str(t) not in present
        ]
        if lost:
            await self.queue.push(*lost)
            log.warning("pipeline_lost_tasks_repushed", count=len(lost))
        return len(lost)
