"""The consumer of the ingestion queue: takes an item, forms it, and tells the queue how it went."""

import asyncio
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
        self, queue: IngestQueue, formation: FormationService, *, concurrency: int, wait_seconds: float = 1.0
    ) -> None:
        self.queue = queue
        self.formation = formation
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.formed = 0
        self.failed = 0
        self.dead_lettered = 0
        self.last_error: str | None = None

    async def start(self, loops: BackgroundLoops) -> dict[str, int]:
        """Re-queue what a previous process left half-done, then start the consumers."""
        recovered = await self.queue.recover()
        if any(recovered.values()):
            log.warning("ingestion_recovered", **recovered)
        for n in range(self.concurrency):
            loops.forever(f"ingestion:{n}", self.step)
        return recovered

    async def step(self) -> bool:
        """Take and form one item; False when the queue stayed empty for `wait_seconds`."""
        if self.maintenance is not None:
            await self.maintenance.wait_until_clear()  # a restore is replacing the data: take nothing
        taken = await self.queue.take(self.wait_seconds)
        if taken is None:
            return False
        try:
            item = IngestItem.model_validate_json(taken.raw)
            await self.formation.form(item)
        except asyncio.CancelledError:
            # Shutdown mid-item: it stays in the processing list and the next start re-queues it.
            raise
        except Exception as exc:
            await self._failed(taken, exc)
        else:
            await self.queue.done(taken)
            self.formed += 1
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
            "consumers": self.concurrency,
            "formed": self.formed,
            "failed": self.failed,
            "dead_lettered": self.dead_lettered,
            "last_error": self.last_error,
        }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"the queue entry is not a valid IngestItem: {exc.errors(include_url=False)[:3]}"
    return f"{type(exc).__name__}: {exc}"[:2000]
