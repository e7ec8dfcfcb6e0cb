"""Consolidation: the periodic pass that tidies what formation wrote.

    merge       near-duplicates become one (the compactor's pass)
    summarise   clusters of related episodes (cosine ≥ `consolidation_cluster_similarity`, at least
                `consolidation_cluster_min_size`) get one semantic summary, linked to its members
    decay       importance of memories nobody read for `decay_unused_days` shrinks (never below the floor);
                nightly and manual runs only, so it does not compound with every idle run
    resolve     a contradiction left pending (its source trusted less) is applied once the belief it
                contradicts has lost enough confidence, or rejected after `contradiction_review_days`

Runs on `POST /consolidate`, when ingestion has been idle for a while after new memories, and nightly.
Every run is logged with its counts (`GET /consolidation-log`). With several memory-service processes,
one run at a time cluster-wide: a run holds a lease in Redis (renewed while it works), and a scheduled
run decides again, under the lease, from the log in PostgreSQL whether it is still due, so the nightly
run happens once per night whichever replica checks first. (A lease rather than a PostgreSQL advisory
lock: a session lock would pin a pooled connection for the whole run, and does not survive PgBouncer's
transaction mode.)
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import structlog

from memory_service.config import Settings
from memory_service.db.engine import Sessions
from memory_service.formation import repository
from memory_service.formation.extraction import Extractor
from memory_service.formation.service import FormationService
from memory_service.maintenance.compaction import Compactor
from memory_service.memories import repository as memories_repository
from nova_common.errors import Conflict
from nova_common.lease import RedisLease
from nova_contracts.memory import (
    ConsolidationLog,
    ConsolidationRun,
    ConsolidationTrigger,
    MemoryCreate,
    MemoryTier,
)

log = structlog.get_logger("memory_service.consolidation")
EPISODES_PER_OWNER = 500
LEASE_KEY = "nova:memory:consolidation:lease"
# How long a manual run waits for another replica's run to finish before answering 409.
MANUAL_WAIT_SECONDS = 30.0


def clusters(vectors: list[list[float]], threshold: float, min_size: int) -> list[list[int]]:
    """Greedy single-pass clustering: each vector joins the first cluster whose centroid it is close to."""
    if not vectors:
        return []
    units = np.asarray(vectors, dtype=np.float32)
    units /= np.maximum(np.linalg.norm(units, axis=1, keepdims=True), 1e-12)
    groups: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i, unit in enumerate(units):
        best, best_similarity = -1, threshold
        for g, centroid in enumerate(centroids):
            similarity = float(unit @ centroid / max(float(np.linalg.norm(centroid)), 1e-12))
            if similarity >= best_similarity:
                best, best_similarity = g, similarity
        if best < 0:
            groups.append([i])
            centroids.append(unit.copy())
        else:
            groups[best].append(i)
            centroids[best] = centroids[best] + unit
    return [g for g in groups if len(g) >= min_size]


def to_run(row: Any) -> ConsolidationRun:
    return ConsolidationRun(
        id=row.id,
        trigger=ConsolidationTrigger(row.trigger),
        started_at=row.started_at,
        finished_at=row.finished_at,
        merged=row.merged,
        summarised_clusters=row.summarised_clusters,
        summaries_created=row.summaries_created,
        decayed=row.decayed,
        contradictions_resolved=row.contradictions_resolved,
        error=row.error,
    )


class Consolidator:
    def __init__(
        self,
        sessions: Sessions,
        compactor: Compactor,
        formation: FormationService,
        extractor: Extractor,
        settings: Settings,
        lease: RedisLease,
    ) -> None:
        self.sessions = sessions
        self.compactor = compactor
        self.formation = formation
        self.extractor = extractor
        self.settings = settings
        self.lease = lease

    async def run(self, trigger: ConsolidationTrigger) -> ConsolidationRun:
        """Run now; a run elsewhere in the cluster is waited for, briefly, then answered with 409."""
        async with self.lease.holding(wait_seconds=MANUAL_WAIT_SECONDS) as held:
            if not held:
                raise Conflict("a consolidation is already running on another replica; retry later")
            return await self._run_held(trigger)

    async def _run_held(self, trigger: ConsolidationTrigger) -> ConsolidationRun:
        """One run; the caller holds the lease."""
        async with self.sessions.begin() as session:
            run_id = await repository.start_run(session, trigger.value)
        counts: dict[str, Any] = {}
        try:
            counts["merged"] = await self._merge()
            counts["summarised_clusters"], counts["summaries_created"] = await self._summarise()
            # Decay is per day, not per run: idle runs can follow each other within hours.
            if trigger is not ConsolidationTrigger.IDLE:
                counts["decayed"] = await self._decay()
            counts["contradictions_resolved"] = await self._resolve()
        except Exception as exc:
            counts["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            log.exception("consolidation_failed", run=str(run_id))
        async with self.sessions.begin() as session:
            await repository.finish_run(session, run_id, counts)
            rows, _ = await repository.runs(session, offset=0, limit=1)
        return to_run(rows[0])

    async def _merge(self) -> int:
        merged = 0
        # The compactor reads a bounded batch per call; drain what is there now.
        for _ in range(100):
            result = await self.compactor.run_once()
            merged += int(result.get("merged", 0))
            if not result.get("scanned"):
                break
        return merged

    async def _summarise(self) -> tuple[int, int]:
        async with self.sessions() as session:
            owners = await repository.owners_with_episodes(session)
        clustered = created = 0
        for owner in owners:
            async with self.sessions() as session:
                episodes = await repository.unlinked_episodes(session, owner, EPISODES_PER_OWNER)
            groups = clusters(
                [vector for _, vector in episodes],
                self.settings.consolidation_cluster_similarity,
                self.settings.consolidation_cluster_min_size,
            )
            for group in groups:
                members = [episodes[i][0] for i in group]
                summary = await self.extractor.summarise([m.content for m in members])
                if summary is None:
                    continue
                clustered += 1
                [embedded] = await self.formation.memories.embed_or_defer([summary])
                create = MemoryCreate(
                    content=summary,
                    tier=MemoryTier.SEMANTIC,
                    confidence=min(1.0, sum(m.confidence for m in members) / len(members)),
                    metadata={"kind": "summary", "members": len(members)},
                    owner=owner,
                )
                values = self.formation.memories.row_values(create, embedded)
                values["importance"] = max(m.importance for m in members)
                async with self.sessions.begin() as session:
                    [row] = await memories_repository.insert_memories(session, [values])
                    await repository.link_summary(session, row.id, [m.id for m in members])
                created += 1
        return clustered, created

    async def _decay(self) -> int:
        unused_since = datetime.now(UTC) - timedelta(days=self.settings.decay_unused_days)
        async with self.sessions.begin() as session:
            return await repository.decay_unused(
                session,
                unused_since=unused_since,
                factor=self.settings.decay_unused_factor,
                floor=self.settings.importance_floor,
            )

    async def _resolve(self) -> int:
        resolved = 0
        review_until = datetime.now(UTC) - timedelta(days=self.settings.contradiction_review_days)
        async with self.sessions.begin() as session:
            for contradiction, memory in await repository.pending_contradictions(session, 200):
                if (
                    contradiction.new_confidence
                    >= memory.confidence - self.settings.formation_supersede_margin
                ):
                    await self.formation.supersede(
                        session,
                        memory,
                        contradiction.new_content,
                        None,
                        contradiction.new_confidence,
                        None,
                        contradiction.source_id,
                    )
                    await repository.set_contradiction_state(session, contradiction.id, "resolved")
                    resolved += 1
                elif contradiction.created_at < review_until:
                    await repository.set_contradiction_state(session, contradiction.id, "rejected")
                    resolved += 1
        return resolved

    async def log(self, *, offset: int, limit: int) -> ConsolidationLog:
        async with self.sessions() as session:
            rows, total = await repository.runs(session, offset=offset, limit=limit)
        return ConsolidationLog(items=[to_run(r) for r in rows], total=total)

    async def tick(self) -> ConsolidationRun | None:
        """The scheduler's check (every minute): run nightly at the configured hour, or once ingestion
        has been idle for `consolidation_idle_minutes` after forming something since the last run."""
        trigger = await self._due()
        if trigger is None:
            return None
        async with self.lease.holding() as held:
            # Decided again under the lease: another replica may have run it a moment ago.
            if not held or await self._due() is not trigger:
                return None
            return await self._run_held(trigger)

    async def _due(self) -> ConsolidationTrigger | None:
        now = datetime.now(UTC)
        hour = self.settings.consolidation_nightly_hour
        async with self.sessions() as session:
            if hour is not None and now.hour == hour:
                nightly = await repository.last_run(session, trigger=ConsolidationTrigger.NIGHTLY.value)
                if nightly is None or nightly.started_at.astimezone(UTC).date() != now.date():
                    return ConsolidationTrigger.NIGHTLY
            idle = self.settings.consolidation_idle_minutes
            if idle is None:
                return None
            last_formed = await repository.last_ingestion_at(session)
            last = await repository.last_run(session)
        if last_formed is None or now - last_formed < timedelta(minutes=idle):
            return None
        if last is not None and last.started_at >= last_formed:
            return None
        return ConsolidationTrigger.IDLE
