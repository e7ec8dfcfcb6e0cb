"""The consumer of the ingestion queue: takes a batch, forms it, and tells the queue how each item went."""

from typing import Any

import structlog
from pydantic import ValidationError

from memory_service.formation.queue import IngestQueue, Taken
from memory_service.formation.service import FormationService
from nova_common.loops import BackgroundLoops
from nova_common.maintenance import MaintenanceFlag
from nova_contracts.memory import IngestItem

log = structlog.get_logger("memory_service.ingestion")


class IngestWorker:
    # Set by the lifespan: recovery's maintenance flag, which holds every consumer during a restore.
    maintenance: MaintenanceFlag | None = None

    def __init__(
        self,
        queue: IngestQueue,
        formation: FormationService,
        *,
        concurrency: int,
        batch_size: int = 1,
        wait_seconds: float = 1.0,
    ) -> None:
        self.queue = queue
        self.formation = formation
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.formed = 0
        self.failed = 0
        self.dead_lettered = 0
        self.reclaimed = 0
        self.last_error: str | None = None

    async def start(self, loops: BackgroundLoops) -> dict[str, int]:
        """Announce this consumer, re-queue what stopped consumers left half-done, then start consuming."""
        recovered = await self.queue.recover()
        if any(recovered.values()):
            log.warning("ingestion_recovered", consumer=self.queue.consumer_id, **recovered)
        # Beating three times per TTL: one late beat does not get a live consumer reclaimed.
        loops.every("ingestion:heartbeat", self.queue.consumer_ttl_ms / 3000, self.beat)
        for n in range(self.concurrency):
            loops.forever(f"ingestion:{n}", self.step)
        return recovered

    async def beat(self) -> None:
        """Refresh this consumer's heartbeat and take back the lists of consumers that stopped beating."""
        await self.queue.heartbeat()
        reclaimed = await self.queue.reclaim()
        if reclaimed["requeued"] or reclaimed["consumers_reclaimed"]:
            self.reclaimed += reclaimed["requeued"]
            log.warning("ingestion_reclaimed", consumer=self.queue.consumer_id, **reclaimed)

    async def step(self) -> bool:
        """Take and form a batch; False when the queue stayed empty for `wait_seconds`."""
        if self.maintenance is not None:
            await self.maintenance.wait_until_clear()  # a restore is replacing the data: take nothing
        batch = await self.queue.take_batch(self.wait_seconds, self.batch_size)
        if not batch:
            return False
        items: list[tuple[Taken, IngestItem]] = []
        for taken in batch:
            if self.queue.exhausted(taken):
                await self._failed(taken, RuntimeError("the worker stopped while forming it"))
                continue
            try:
                items.append((taken, IngestItem.model_validate_json(taken.raw)))
            except ValidationError as exc:
                await self._failed(taken, exc)
        if not items:
            return True
        # Cancelled (shutdown) mid-batch: the items stay in the processing list and are re-queued.
        try:
            results = await self.formation.form_batch([item for _, item in items])
        except Exception as exc:  # the batch as a whole (embedding it, say): each item failed this attempt
            results = [exc] * len(items)
        formed: list[Taken] = []
        for (taken, _), result in zip(items, results, strict=True):
            if isinstance(result, Exception):
                await self._failed(taken, result)
            else:
                formed.append(taken)
        # Only now, after the batch's transaction committed, do its items leave the processing list.
        if formed:
            await self.queue.done(*formed)
            self.formed += len(formed)
        return True

    async def _failed(self, taken: Taken, exc: Exception) -> None:
        error = _describe(exc)
        self.failed += 1
        self.last_error = error
        dead = await self.queue.failed(taken, error)
        if dead:
            self.dead_lettered += 1
        log.warning(
            "ingestion_failed", item=taken.key, attempts=taken.attempts, dead_lettered=dead, error=error
        )

    def details(self) -> dict[str, Any]:
        return {
            "consumer": self.queue.consumer_id,
            "consumers": self.concurrency,
            "batch_size": self.batch_size,
            "formed": self.formed,
            "failed": self.failed,
            "dead_lettered": self.dead_lettered,
            "reclaimed": self.reclaimed,
            "last_error": self.last_error,
        }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"the queue entry is not a valid IngestItem: {exc.errors(include_url=False)[:3]}"
    return f"{type(exc).__name__}: {exc}"[:2000]
