"""The rules for memories: storing (embedded now, or later if the gateway is down), facts, search, browse."""

import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from memory_service.config import Settings
from memory_service.db.engine import Sessions
from memory_service.db.models import MemoryAccessRow, MemoryRow, SourceRow
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.embeddings.service import (
    EmbeddedText,
    EmbeddingUnavailable,
    MemoryEmbedder,
    content_hash,
)
from memory_service.memories import repository
from memory_service.memories.decay import effective_confidence
from memory_service.memories.search import (
    ScoredMemory,
    SearchFilters,
    SearchPlan,
    hybrid_search,
    visible_to,
)
from nova_common.errors import BadRequest, Conflict, Forbidden, NotFound
from nova_contracts.memory import (
    FactRevision,
    FactUpsert,
    FactUpsertResult,
    FusionMethod,
    Memory,
    MemoryCreate,
    MemoryHistory,
    MemoryMerge,
    MemoryPage,
    MemorySearchHit,
    MemorySearchRequest,
    MemorySearchResponse,
    MemorySort,
    MemoryTier,
    MemoryUpdate,
    SortOrder,
    Source,
    SourceKind,
)


def to_memory(row: MemoryRow, *, now: datetime, decay_exponent: float) -> Memory:
    access: MemoryAccessRow | None = row.access
    last_access = access.last_accessed_at if access else row.created_at
    return Memory(
        id=row.id,
        tier=MemoryTier(row.tier),
        content=row.content,
        agent_id=row.agent_id,
        project_id=row.project_id,
        category=row.category,
        key=row.key,
        confidence=row.confidence,
        effective_confidence=effective_confidence(row.tier, row.confidence, last_access, now, decay_exponent),
        access_count=access.access_count if access else 0,
        last_accessed_at=access.last_accessed_at if access else None,
        metadata=row.metadata_,
        embedding_model=row.embedding_model,
        embedding_dim=row.embedding_dim,
        embedded=row.embedding_model is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        owner=row.owner,
        shared=row.shared,
        importance=row.importance,
        source_id=row.source_id,
    )


def may_share(*, caller_is_admin: bool, owner: str) -> bool:
    """Only the admin shares memories: with the admin secret, or through the orchestrator (the service
    token) writing as the admin. A key's or a local caller's memory is shared only by the admin's hand."""
    return caller_is_admin or owner == "admin"


def _check_sharing(shared: bool | None, *, caller_is_admin: bool, owner: str) -> None:
    if shared and not may_share(caller_is_admin=caller_is_admin, owner=owner):
        raise Forbidden(f"shared: only the admin may share a memory (this one's owner is {owner})")


def _vector_columns(embedded: EmbeddedText | None) -> dict[str, Any]:
    if embedded is None:
        return {"embedding": None, "embedding_model": None, "embedding_dim": None, "embedded_at": None}
    return {
        "embedding": embedded.vector,
        "embedding_model": embedded.model,
        "embedding_dim": embedded.dim,
        "embedded_at": datetime.now(UTC),
    }


def _fact_conflict(exc: IntegrityError) -> Conflict | None:
    if repository.FACT_KEY_INDEX in str(exc.orig):
        return Conflict(
            "a fact with this owner, project_id, category and key exists: update it with POST /facts"
        )
    return None


_SORT_COLUMNS: dict[MemorySort, Any] = {
    MemorySort.CREATED_AT: MemoryRow.created_at,
    MemorySort.UPDATED_AT: MemoryRow.updated_at,
    MemorySort.CONFIDENCE: MemoryRow.confidence,
    MemorySort.ACCESS_COUNT: MemoryAccessRow.access_count,
    MemorySort.LAST_ACCESSED_AT: MemoryAccessRow.last_accessed_at,
}


@dataclass(frozen=True)
class BrowseQuery:
    tier: MemoryTier | None = None
    agent_id: str | None = None
    project_id: str | None = None
    owner: str | None = None
    source_id: uuid.UUID | None = None
    sort: MemorySort = MemorySort.CREATED_AT
    order: SortOrder = SortOrder.DESC
    offset: int = 0
    limit: int = 50


class MemoryService:
    def __init__(self, sessions: Sessions, embeddings: MemoryEmbedder, settings: Settings) -> None:
        self.sessions = sessions
        self.embeddings = embeddings
        self.settings = settings

    def _memory(self, row: MemoryRow, now: datetime | None = None) -> Memory:
        return to_memory(row, now=now or datetime.now(UTC), decay_exponent=self.settings.decay_exponent)

    async def embed_or_defer(self, texts: list[str]) -> list[EmbeddedText | None]:
        """Vectors for `texts`, or None each when the gateway is down: the backlog embeds them later."""
        try:
            return list(await self.embeddings.embed(texts))
        except EmbeddingUnavailable:
            return [None] * len(texts)

    def row_values(self, item: MemoryCreate, embedded: EmbeddedText | None) -> dict[str, Any]:
        expires_at = item.expires_at
        if item.tier is MemoryTier.WORKING and expires_at is None:
            expires_at = datetime.now(UTC) + timedelta(seconds=self.settings.working_memory_ttl_seconds)
        return {
            "id": uuid.uuid4(),
            "tier": item.tier.value,
            "content": item.content,
            "content_hash": content_hash(item.content),
            "agent_id": item.agent_id,
            "project_id": item.project_id,
            "category": item.category,
            "key": item.key,
            "confidence": item.confidence,
            "metadata_": item.metadata,
            "expires_at": expires_at,
            "owner": item.owner,
            "shared": item.shared,
            **_vector_columns(embedded),
        }

    async def store(self, items: list[MemoryCreate], *, caller_is_admin: bool = False) -> list[Memory]:
        for item in items:
            _check_sharing(item.shared, caller_is_admin=caller_is_admin, owner=item.owner)
        embedded = await self.embed_or_defer([item.content for item in items])
        values = [self.row_values(item, e) for item, e in zip(items, embedded, strict=True)]
        try:
            async with self.sessions.begin() as session:
                rows = await repository.insert_memories(session, values)
        except IntegrityError as exc:
            raise _fact_conflict(exc) or exc from exc
        now = datetime.now(UTC)
        return [self._memory(row, now) for row in rows]

    async def get(self, memory_id: uuid.UUID) -> Memory:
        """The memory with its source in full; reading it counts as an access."""
        async with self.sessions.begin() as session:
            row = await repository.get_memory(session, memory_id)
            if row is None:
                raise NotFound(f"memory {memory_id} not found")
            await repository.touch(session, [memory_id])
            source = await session.get(SourceRow, row.source_id) if row.source_id else None
        memory = self._memory(row)
        if source is not None:
            memory.source = Source(
                id=source.id,
                kind=SourceKind(source.kind),
                uri=source.uri,
                title=source.title,
                author=source.author,
                content_hash=source.content_hash,
                trust=source.trust,
                owner=source.owner,
                fetched_at=source.fetched_at,
                ingested_at=source.ingested_at,
            )
        return memory

    async def history(self, memory_id: uuid.UUID, *, offset: int = 0, limit: int = 50) -> MemoryHistory:
        """One page (`offset`, `limit`) of the fact's revisions and, separately, of its merges."""
        async with self.sessions() as session:
            if await repository.get_memory(session, memory_id) is None:
                raise NotFound(f"memory {memory_id} not found")
            revisions = await repository.revisions(session, memory_id, offset=offset, limit=limit)
            merges = await repository.merges(session, memory_id, offset=offset, limit=limit)
        return MemoryHistory(
            memory_id=memory_id,
            revisions=[
                FactRevision(content=r.content, confidence=r.confidence, replaced_at=r.replaced_at)
                for r in revisions
            ],
            merges=[
                MemoryMerge(
                    merged_id=m.merged_id,
                    content=m.content,
                    metadata=m.metadata_,
                    confidence=m.confidence,
                    similarity=m.similarity,
                    merged_at=m.merged_at,
                )
                for m in merges
            ],
        )

    async def update(
        self, memory_id: uuid.UUID, patch: MemoryUpdate, *, caller_is_admin: bool = False
    ) -> Memory:
        changes: dict[str, Any] = {
            name: getattr(patch, name) for name in patch.model_fields_set if name not in ("tier", "metadata")
        }
        if "tier" in patch.model_fields_set:
            changes["tier"] = patch.tier
        if "metadata" in patch.model_fields_set:
            changes["metadata_"] = patch.metadata
        embedded: EmbeddedText | None = None
        if "content" in changes:
            [embedded] = await self.embed_or_defer([changes["content"]])
        try:
            async with self.sessions.begin() as session:
                row = await repository.get_memory(session, memory_id, for_update=True)
                if row is None:
                    raise NotFound(f"memory {memory_id} not found")
                if "shared" in changes and not may_share(caller_is_admin=caller_is_admin, owner=row.owner):
                    raise Forbidden(
                        f"shared: only the admin may change sharing (this memory's owner is {row.owner})"
                    )
                values = self._apply_patch(row, changes, embedded)
                if "content" in values and row.tier == "semantic" and row.key is not None:
                    await repository.add_revision(session, row.id, row.content, row.confidence)
                await repository.update_memory(session, memory_id, values)
                session.expunge(row)
                updated = await repository.get_memory(session, memory_id)
        except IntegrityError as exc:
            raise _fact_conflict(exc) or exc from exc
        if updated is None:  # only if its working-memory expiry passed during this very update
            raise NotFound(f"memory {memory_id} not found")
        return self._memory(updated)

    def _apply_patch(
        self, row: MemoryRow, changes: dict[str, Any], embedded: EmbeddedText | None
    ) -> dict[str, Any]:
        values = dict(changes)
        tier = MemoryTier(values["tier"]) if "tier" in values else MemoryTier(row.tier)
        if "tier" in values:
            values["tier"] = tier.value
        expires_at = values.get("expires_at", row.expires_at)
        if tier is not MemoryTier.WORKING:
            if "expires_at" in changes and changes["expires_at"] is not None:
                raise BadRequest(
                    f"expires_at: only working memories expire; this memory's tier is {tier.value}"
                )
            values["expires_at"] = None
        elif expires_at is None:
            values["expires_at"] = datetime.now(UTC) + timedelta(
                seconds=self.settings.working_memory_ttl_seconds
            )
        if "content" in values:
            if values["content"] == row.content:
                del values["content"]
            else:
                values["content_hash"] = content_hash(values["content"])
                values.update(_vector_columns(embedded))
        return values

    async def touch(self, ids: list[uuid.UUID]) -> None:
        async with self.sessions.begin() as session:
            await repository.touch(session, ids)

    async def delete(self, memory_id: uuid.UUID) -> None:
        async with self.sessions.begin() as session:
            if not await repository.delete_memory(session, memory_id):
                raise NotFound(f"memory {memory_id} not found")

    async def browse(self, query: BrowseQuery) -> MemoryPage:
        conditions: list[ColumnElement[bool]] = []
        if query.tier is not None:
            conditions.append(MemoryRow.tier == query.tier.value)
        if query.agent_id is not None:
            conditions.append(MemoryRow.agent_id == query.agent_id)
        if query.project_id is not None:
            conditions.append(MemoryRow.project_id == query.project_id)
        if query.owner is not None:
            conditions.append(visible_to(query.owner))
        if query.source_id is not None:
            conditions.append(MemoryRow.source_id == query.source_id)
        column = _SORT_COLUMNS[query.sort]
        order = column.asc().nulls_last() if query.order is SortOrder.ASC else column.desc().nulls_last()
        async with self.sessions() as session:
            rows, total = await repository.browse(
                session, conditions, [order], offset=query.offset, limit=query.limit
            )
        now = datetime.now(UTC)
        return MemoryPage(
            items=[self._memory(r, now) for r in rows], total=total, offset=query.offset, limit=query.limit
        )

    async def upsert_fact(self, fact: FactUpsert, *, caller_is_admin: bool = False) -> FactUpsertResult:
        """Insert the fact, or replace its content and move the old value into its revision history."""
        _check_sharing(fact.shared, caller_is_admin=caller_is_admin, owner=fact.owner)
        [embedded] = await self.embed_or_defer([fact.content])
        for _attempt in range(2):
            try:
                async with self.sessions.begin() as session:
                    return await self._upsert_fact(session, fact, embedded, caller_is_admin)
            except IntegrityError as exc:
                # Two first writes of the same fact raced; the loser retries and finds the winner's row.
                if _fact_conflict(exc) is None:
                    raise
        raise Conflict("the fact was being written concurrently; retry")

    async def _upsert_fact(
        self, session: AsyncSession, fact: FactUpsert, embedded: EmbeddedText | None, caller_is_admin: bool
    ) -> FactUpsertResult:
        existing = await repository.fact_for_update(
            session, fact.owner, fact.project_id, fact.category, fact.key
        )
        if existing is None:
            item = MemoryCreate(
                content=fact.content,
                tier=MemoryTier.SEMANTIC,
                agent_id=fact.agent_id,
                project_id=fact.project_id,
                category=fact.category,
                key=fact.key,
                confidence=fact.confidence,
                metadata=fact.metadata,
                owner=fact.owner,
                shared=fact.shared,
            )
            [row] = await repository.insert_memories(session, [self.row_values(item, embedded)])
            await repository.touch(session, [row.id])
            return FactUpsertResult(memory=self._memory(row), created=True)

        if fact.confidence_delta is not None:
            confidence = min(1.0, max(0.0, existing.confidence + fact.confidence_delta))
        elif "confidence" in fact.model_fields_set:
            confidence = fact.confidence
        else:
            confidence = existing.confidence
        values: dict[str, Any] = {
            "confidence": confidence,
            "metadata_": {**existing.metadata_, **fact.metadata},
        }
        if fact.agent_id is not None:
            values["agent_id"] = fact.agent_id
        if "shared" in fact.model_fields_set and fact.shared != existing.shared:
            if not may_share(caller_is_admin=caller_is_admin, owner=existing.owner):
                raise Forbidden(
                    f"shared: only the admin may change sharing (this fact's owner is {existing.owner})"
                )
            values["shared"] = fact.shared
        previous_content: str | None = None
        if fact.content != existing.content:
            previous_content = existing.content
            await repository.add_revision(session, existing.id, existing.content, existing.confidence)
            values.update(
                content=fact.content, content_hash=content_hash(fact.content), **_vector_columns(embedded)
            )
        await repository.update_memory(session, existing.id, values)
        # Re-asserting a fact is an access: it resets the decay clock.
        await repository.touch(session, [existing.id])
        history_length = await repository.count_revisions(session, existing.id)
        session.expunge(existing)
        updated = await repository.get_memory(session, existing.id)
        if updated is None:  # a fact is semantic, so it cannot expire between these two statements
            raise NotFound(f"fact {existing.id} not found")
        return FactUpsertResult(
            memory=self._memory(updated),
            created=False,
            previous_content=previous_content,
            history_length=history_length,
        )

    def search_plan(self, request: MemorySearchRequest, fusion: FusionMethod) -> SearchPlan:
        tuning = self.settings.search_tuning()
        if request.vector_weight is not None:
            tuning = replace(tuning, vector_weight=request.vector_weight)
        return SearchPlan(
            query=request.query,
            fusion=fusion,
            limit=request.limit,
            tuning=tuning,
            min_score=request.min_score,
        )

    async def ranked(
        self,
        request: MemorySearchRequest,
        filters: SearchFilters,
        *,
        touch: bool = True,
        duplicate_similarity: float | None = None,
        timings: dict[str, float] | None = None,
    ) -> tuple[list[ScoredMemory], FusionMethod, bool, EmbeddingTarget | None]:
        """The hits (counted as accessed if `touch`), the fusion used, whether it fell back to keywords,
        and the embedding model of the query vector. `duplicate_similarity`: each hit lists the better
        ranked hits its vector is that similar to. `timings` receives the embed and search milliseconds."""
        started = time.perf_counter()
        fusion = request.fusion or self.settings.fusion_default
        plan = replace(self.search_plan(request, fusion), duplicate_similarity=duplicate_similarity)
        fallback = False
        if fusion is not FusionMethod.KEYWORD:
            try:
                [query_vector] = await self.embeddings.embed([request.query])
            except EmbeddingUnavailable:
                fusion, fallback = FusionMethod.KEYWORD, True
                plan = replace(plan, fusion=fusion)
            else:
                target = EmbeddingTarget(query_vector.model, query_vector.dim)
                plan = replace(plan, vector=query_vector.vector, target=target)
        embedded = time.perf_counter()
        if touch:
            async with self.sessions.begin() as session:
                hits = await hybrid_search(session, plan, filters)
                await repository.touch(session, [hit.row.id for hit in hits])
        else:
            async with self.sessions() as session:
                hits = await hybrid_search(session, plan, filters)
        if timings is not None:
            timings["embed"] = (embedded - started) * 1000
            timings["search"] = (time.perf_counter() - embedded) * 1000
        return hits, fusion, fallback, plan.target

    async def search(self, request: MemorySearchRequest) -> MemorySearchResponse:
        started = time.perf_counter()
        filters = SearchFilters(
            tiers=[t.value for t in request.tiers] if request.tiers else None,
            agent_id=request.agent_id,
            project_id=request.project_id,
            metadata=request.metadata,
            owner=request.owner,
        )
        hits, fusion, fallback, target = await self.ranked(request, filters)
        now = datetime.now(UTC)
        return MemorySearchResponse(
            hits=[
                MemorySearchHit(
                    memory=self._memory(hit.row, now),
                    score=hit.score,
                    vector_score=hit.vector_score,
                    keyword_score=hit.keyword_score,
                    rank=rank,
                )
                for rank, hit in enumerate(hits, start=1)
            ],
            fusion=fusion,
            keyword_only_fallback=fallback,
            embedding_model=target.model if target else None,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )
