"""Reading what formation built: the per-owner profile, sources, contradictions and the statistics."""

import uuid
from datetime import UTC, datetime

from memory_service.db.engine import Sessions
from memory_service.db.models import SourceRow
from memory_service.formation import repository
from memory_service.formation.consolidation import to_run
from memory_service.formation.queue import IngestQueue
from memory_service.formation.service import FormationService
from nova_contracts.memory import (
    Contradiction,
    ContradictionPage,
    FormationResult,
    IngestItem,
    MemoryStats,
    Profile,
    ProfileBelief,
    ProfileCorrection,
    Source,
    SourceInfo,
    SourceKind,
    SourcePage,
)

PROFILE_LIMIT = 500


def to_source(row: SourceRow, memory_count: int = 0) -> Source:
    return Source(
        id=row.id,
        kind=SourceKind(row.kind),
        uri=row.uri,
        title=row.title,
        author=row.author,
        content_hash=row.content_hash,
        trust=row.trust,
        owner=row.owner,
        fetched_at=row.fetched_at,
        ingested_at=row.ingested_at,
        memory_count=memory_count,
    )


class ProfileService:
    def __init__(self, sessions: Sessions, formation: FormationService, queue: IngestQueue) -> None:
        self.sessions = sessions
        self.formation = formation
        self.queue = queue

    async def profile(self, owner: str) -> Profile:
        async with self.sessions() as session:
            rows = await repository.profile_rows(session, owner, PROFILE_LIMIT)
            sources = await repository.sources_by_id(session, [r.source_id for r in rows if r.source_id])
        profile = Profile(owner=owner)
        for row in rows:
            source = sources.get(row.source_id) if row.source_id else None
            is_fact = row.key is not None
            belief = ProfileBelief(
                memory_id=row.id,
                kind="fact" if is_fact else "preference",
                subject=row.category if is_fact else None,
                attribute=row.key,
                content=row.content,
                confidence=row.confidence,
                importance=row.importance,
                source=to_source(source) if source else None,
                updated_at=row.updated_at,
            )
            (profile.facts if is_fact else profile.preferences).append(belief)
        return profile

    async def correct(self, correction: ProfileCorrection) -> FormationResult:
        """Formed at once (not queued) so the caller sees the corrected belief; the words are a source of
        kind `correction`, trusted fully, so they supersede what they contradict."""
        item = IngestItem(
            id=uuid.uuid4(),
            enqueued_at=datetime.now(UTC),
            content=correction.correction,
            source=SourceInfo(kind=SourceKind.CORRECTION, title="profile correction", trust=1.0),
            owner=correction.owner,
        )
        return await self.formation.form(item)

    async def sources(
        self, *, owner: str | None, kind: SourceKind | None, offset: int, limit: int
    ) -> SourcePage:
        async with self.sessions() as session:
            rows, total = await repository.list_sources(
                session, owner=owner, kind=kind.value if kind else None, offset=offset, limit=limit
            )
            counts = await repository.memory_counts(session, [r.id for r in rows])
        return SourcePage(
            items=[to_source(r, counts.get(r.id, 0)) for r in rows], total=total, offset=offset, limit=limit
        )

    async def source(self, source_id: uuid.UUID) -> Source | None:
        async with self.sessions() as session:
            rows = await repository.sources_by_id(session, [source_id])
            counts = await repository.memory_counts(session, [source_id])
        row = rows.get(source_id)
        return to_source(row, counts.get(source_id, 0)) if row else None

    async def contradictions(
        self, *, owner: str | None, state: str | None, offset: int, limit: int
    ) -> ContradictionPage:
        async with self.sessions() as session:
            rows, total = await repository.list_contradictions(
                session, owner=owner, state=state, offset=offset, limit=limit
            )
        return ContradictionPage(
            items=[
                Contradiction(
                    id=c.id,
                    memory_id=c.memory_id,
                    owner=c.owner,
                    category=m.category,
                    key=m.key,
                    previous_content=c.previous_content,
                    new_content=c.new_content,
                    state=c.state,
                    source_id=c.source_id,
                    created_at=c.created_at,
                    resolved_at=c.resolved_at,
                )
                for c, m in rows
            ],
            total=total,
        )

    async def stats(self, owner: str | None) -> MemoryStats:
        async with self.sessions() as session:
            by_tier = await repository.counts_by_tier(session, owner)
            by_kind = await repository.counts_by_source_kind(session, owner)
            unextracted = await repository.count_unextracted(session, owner)
            last = await repository.last_run(session)
            retrievals, with_feedback, surfaced, used = await repository.retrieval_usage(session)
        return MemoryStats(
            by_tier=by_tier,
            by_source_kind=by_kind,
            unextracted=unextracted,
            queue=await self.queue.depth(),
            last_consolidation=to_run(last) if last else None,
            retrievals=retrievals,
            retrievals_with_feedback=with_feedback,
            usage_rate=round(used / surfaced, 4) if surfaced else None,
        )
