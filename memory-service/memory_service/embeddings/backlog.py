"""The embedding backlog: memories stored while the gateway was down, and re-embedding after a model change.

Both are the same work (memories whose vector is missing or is not from the target model), done in
batches by one background loop. A model change additionally opens a re-embed *job*, whose progress
(`total` = memories on the old model when it started, `done` = how many of those are converted) is
what `GET /api/v1/memories/reembed` reports.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from memory_service.db.engine import Sessions
from memory_service.db.models import ReembedJobRow
from memory_service.db.schema import drop_other_vector_indexes, ensure_vector_index
from memory_service.embeddings import repository
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.embeddings.service import MemoryEmbedder
from nova_contracts.memory import ReembedStatus

log = structlog.get_logger("memory_service.backlog")


class EmbeddingBacklog:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: Sessions,
        embeddings: MemoryEmbedder,
        *,
        batch_size: int,
        hnsw_m: int,
        hnsw_ef_construction: int,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.embeddings = embeddings
        self.batch_size = batch_size
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self._adopting = asyncio.Lock()
        self.wake: Callable[[], None] | None = None  # set by main: wakes the loop that calls `run_once`
        embeddings.on_new_target = self.adopt_target

    async def load_target(self, *, model: str | None, dimensions: int | None) -> None:
        """Start from the stored target, unless the settings now ask for another model or dimension."""
        async with self.sessions() as session:
            stored = await repository.load_target(session)
        if stored is None:
            return
        if (model is not None and model != stored.model) or (
            dimensions is not None and dimensions != stored.dim
        ):
            log.info("embedding_target_reset_by_settings", stored=stored.model, wanted=model)
            return
        self.embeddings.target = stored
        await self._ensure_index(stored)
        await self.reconcile_job()

    async def adopt_target(self, target: EmbeddingTarget) -> None:
        async with self._adopting:
            async with self.sessions.begin() as session:
                await repository.replace_target(session, target)
            await self._ensure_index(target)
            await self.reconcile_job()
        if self.wake is not None:
            self.wake()

    async def _ensure_index(self, target: EmbeddingTarget) -> None:
        await ensure_vector_index(
            self.engine, target.model, target.dim, m=self.hnsw_m, ef_construction=self.hnsw_ef_construction
        )

    async def reconcile_job(self) -> None:
        """Open, supersede or close the re-embed job so it matches the memories left on old models."""
        target = self.embeddings.target
        if target is None:
            return
        async with self.sessions.begin() as session:
            stale = await repository.count_stale(session, target)
            job = await repository.running_job(session)
            if job is not None and (job.target_model, job.target_dim) != (target.model, target.dim):
                await repository.end_job(
                    session, job.id, "failed", f"superseded by {target.model}/{target.dim}"
                )
                job = None
            if job is None and stale > 0:
                job = await repository.start_job(session, target, stale)
                log.info("reembed_job_started", job_id=str(job.id), total=stale, model=target.model)
            elif job is not None:
                await repository.record_job_progress(session, job.id, stale)
                if stale == 0:
                    await self._finish(session, job, target)

    async def _finish(self, session: Any, job: ReembedJobRow, target: EmbeddingTarget) -> None:
        await repository.end_job(session, job.id, "done")
        dropped = await drop_other_vector_indexes(await session.connection(), target.model, target.dim)
        log.info("reembed_job_done", job_id=str(job.id), total=job.total, dropped_indexes=dropped)

    async def run_once(self) -> dict[str, Any]:
        """Embed one batch of the backlog; `more` tells the loop to go on without waiting."""
        target = self.embeddings.target
        async with self.sessions() as session:
            items = await repository.backlog(session, target, self.batch_size)
        if not items:
            return {"embedded": 0, "more": False}
        vectors = await self.embeddings.embed([item.content for item in items])
        updates = [
            {
                "b_id": i.id,
                "b_hash": i.content_hash,
                "b_embedding": v.vector,
                "b_model": v.model,
                "b_dim": v.dim,
            }
            for i, v in zip(items, vectors, strict=True)
        ]
        async with self.sessions.begin() as session:
            await repository.store_vectors(session, updates)
        if any(item.stale for item in items):
            await self.reconcile_job()
        return {"embedded": len(items), "more": len(items) == self.batch_size}

    async def status(self) -> ReembedStatus:
        async with self.sessions() as session:
            job = await repository.latest_job(session)
        if job is None:
            return ReembedStatus()
        return ReembedStatus(
            job_id=job.id,
            state=job.state,
            total=job.total,
            done=job.done,
            target_model=job.target_model,
            target_dim=job.target_dim,
            error=job.error,
        )

    async def pending(self) -> int:
        async with self.sessions() as session:
            return await repository.count_unembedded(session)
