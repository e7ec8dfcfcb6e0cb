"""Forming memories from one ingested text.

    extract   the gateway's model answers facts, preferences, entities and a one-line episode (JSON schema);
              an unusable answer keeps the whole text as a plain episode flagged `formation: unextracted`
    source    the text's provenance row (one per owner and text), with its trust
    facts     keyed (owner, project, subject, attribute) like `POST /facts`: a new key is a new fact, the
              same value reinforces it, a different value supersedes it (the old value goes to the fact's
              revision history with its confidence lowered) unless the new source is trusted clearly
              less, in which case it waits for review; either way a contradiction row lists it
    the rest  a near-duplicate (cosine ≥ `formation_dedup_similarity`) of one of the owner's memories of the
              same tier reinforces that memory; otherwise a new memory linked to the source

Everything of one item is written in one transaction together with its `ingestions` row, so a delivery
repeated after a crash finds the row and writes nothing twice.
"""

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from memory_service.config import Settings
from memory_service.db.engine import Sessions
from memory_service.embeddings.service import EmbeddedText, content_hash
from memory_service.formation import repository
from memory_service.formation.extraction import Extraction, ExtractionUnusable, Extractor
from memory_service.memories import repository as memories_repository
from memory_service.memories.service import MemoryService
from nova_common.errors import Conflict
from nova_contracts.memory import FormationResult, IngestItem, MemoryCreate, MemoryTier, SourceKind

# Trust of a source kind when the producer gives none: what the user says about themself is trusted
# most, then the assistant's own work, then what was read on the web.
DEFAULT_TRUST: dict[SourceKind, float] = {
    SourceKind.CORRECTION: 1.0,
    SourceKind.CHAT: 0.9,
    SourceKind.DOCUMENT: 0.85,
    SourceKind.CONSOLIDATION: 0.85,
    SourceKind.TASK: 0.8,
    SourceKind.CRAWL: 0.7,
    SourceKind.FEED: 0.6,
    SourceKind.API: 0.5,
}
# The project of an extracted fact when the item names none: the same default as the agents' save_fact tool.
DEFAULT_FACT_PROJECT = "nova"
REINFORCE_STEP = 0.1
WRITE_ATTEMPTS = 3
log = structlog.get_logger("memory_service.formation")
_T = TypeVar("_T")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalised(text: str) -> str:
    return _NOT_WORD.sub("_", text.lower()).strip("_")[:200] or "unknown"


@dataclass
class _Outcome:
    created: list[uuid.UUID] = field(default_factory=list)
    reinforced: list[uuid.UUID] = field(default_factory=list)
    superseded: list[uuid.UUID] = field(default_factory=list)
    contradictions: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    """One memory the extraction proposes, before it is matched against what exists."""

    tier: MemoryTier
    content: str
    confidence: float
    importance: float
    metadata: dict[str, Any]
    category: str | None = None
    key: str | None = None
    value: str | None = None


# An item ready to write: the item, its candidates, their vectors, the source's trust, why it is unextracted.
_Prepared = tuple[IngestItem, list[_Candidate], list[EmbeddedText | None], float, str | None]


class FormationService:
    def __init__(
        self, sessions: Sessions, memories: MemoryService, extractor: Extractor, settings: Settings
    ) -> None:
        self.sessions = sessions
        self.memories = memories
        self.extractor = extractor
        self.settings = settings
        self._extracting = asyncio.Semaphore(settings.extraction_concurrency)

    async def form(self, item: IngestItem) -> FormationResult:
        [prepared] = await self._prepare([item])
        if isinstance(prepared, BaseException):
            raise prepared
        return await self._written(lambda: self._write(*prepared), item.id)

    async def form_batch(self, items: list[IngestItem]) -> list[FormationResult | Exception]:
        """Form several items at once: extractions run concurrently, every candidate is embedded in one
        gateway call and everything is written in one transaction, whose statements each serve the whole
        batch (the per-item round trips were most of the pipeline's own cost). An item whose extraction
        failed is that item's exception; if the batch's transaction fails, each item is formed on its own,
        so one bad item cannot fail the others."""
        prepared = await self._prepare(items)
        ready = [p for p in prepared if not isinstance(p, BaseException)]
        written: list[FormationResult | Exception] = []
        try:
            written.extend(await self._written(lambda: self._write_batch(ready), None) if ready else [])
        except Exception:
            log.warning("formation_batch_failed", items=len(ready), exc_info=True)
            written = [await self._form_alone(p) for p in ready]
        by_item = iter(written)
        results: list[FormationResult | Exception] = []
        for outcome in prepared:
            if isinstance(outcome, Exception):
                results.append(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                results.append(next(by_item))
        return results

    async def _form_alone(self, prepared: "_Prepared") -> FormationResult | Exception:
        try:
            return await self._written(lambda: self._write(*prepared), prepared[0].id)
        except Exception as exc:
            return exc

    async def _prepare(self, items: list[IngestItem]) -> list["_Prepared | BaseException"]:
        """Extract (concurrently) and embed (in one call) what each item proposes to remember."""
        extracted = await asyncio.gather(*(self._extract(item) for item in items), return_exceptions=True)
        planned: list[tuple[IngestItem, list[_Candidate], float, str | None] | BaseException] = []
        for item, outcome in zip(items, extracted, strict=True):
            if isinstance(outcome, BaseException):
                planned.append(outcome)
                continue
            extraction, unextracted = outcome
            trust = item.source.trust if item.source.trust is not None else DEFAULT_TRUST[item.source.kind]
            if extraction is not None:
                candidates = self._candidates(item, extraction, trust)
            elif item.keep_episode:
                candidates = [self._plain_episode(item, unextracted or "")]
            else:
                candidates = []  # the producer stored the text itself: nothing is lost
            if not item.keep_episode:
                candidates = [c for c in candidates if c.tier is not MemoryTier.EPISODIC]
            planned.append((item, candidates, trust, unextracted))
        texts = [c.content for p in planned if not isinstance(p, BaseException) for c in p[1]]
        vectors = iter(await self.memories.embed_or_defer(texts) if texts else [])
        out: list[_Prepared | BaseException] = []
        for p in planned:
            if isinstance(p, BaseException):
                out.append(p)
            else:
                item, candidates, trust, unextracted = p
                out.append((item, candidates, [next(vectors) for _ in candidates], trust, unextracted))
        return out

    async def _extract(self, item: IngestItem) -> tuple[Extraction | None, str | None]:
        # A re-delivered item (after a crash) is recognised when its transaction claims the item id:
        # it costs one more model call then, which is cheaper than a lookup before every item.
        try:
            async with self._extracting:
                extraction = await self.extractor.extract(
                    item.content, source_kind=item.source.kind.value, title=item.source.title
                )
        except ExtractionUnusable as exc:
            return None, str(exc)[:500]
        return extraction, None

    async def _written(self, write: Callable[[], Awaitable[_T]], item_id: uuid.UUID | None) -> _T:
        # Two items forming the same new fact (or source) at once: the loser's unique violation or
        # deadlock rolls its transaction back, and a retry finds the winner's row.
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return await write()
            except DBAPIError as exc:
                if not _collided(exc):
                    raise
                if attempt == WRITE_ATTEMPTS - 1:
                    what = f"item {item_id}" if item_id else "the batch"
                    raise Conflict(f"{what} collided with concurrent writes; retry") from exc
        raise AssertionError("unreachable")

    async def _write(
        self,
        item: IngestItem,
        candidates: list["_Candidate"],
        vectors: list[EmbeddedText | None],
        trust: float,
        unextracted: str | None,
    ) -> FormationResult:
        async with self.sessions.begin() as session:
            if not await repository.claim_ingestion(session, item.id):
                done = await repository.ingestion(session, item.id)
                return _repeat(item.id, done.result if done else {})
            source_id = await repository.upsert_source(session, self._source_values(item, trust))
            outcome = _Outcome()
            for candidate, embedded in zip(candidates, vectors, strict=True):
                if candidate.key is not None:
                    await self._form_fact(session, item, candidate, embedded, source_id, outcome)
                else:
                    await self._form_memory(session, item, candidate, embedded, source_id, outcome)
            result = FormationResult(
                item_id=item.id,
                source_id=source_id,
                created=outcome.created,
                reinforced=outcome.reinforced,
                superseded=outcome.superseded,
                contradictions=outcome.contradictions,
                unextracted=unextracted is not None,
            )
            await repository.finish_ingestion(
                session, item.id, source_id, unextracted is not None, result.model_dump(mode="json")
            )
        return result

    async def _write_batch(self, batch: list["_Prepared"]) -> list[FormationResult]:
        """`_write` for many items in one transaction; the result is the same as forming them in order."""
        async with self.sessions.begin() as session:
            claimed = await repository.claim_ingestions(session, list({p[0].id: None for p in batch}))
            todo = [p for p in batch if p[0].id in claimed]
            first = {p[0].id: p for p in reversed(todo)}  # an id delivered twice in one batch forms once
            todo = [p for p in todo if first[p[0].id] is p]
            sources: dict[tuple[str, str], dict[str, Any]] = {}
            for item, _, _, trust, _ in todo:
                values = self._source_values(item, trust)
                key = (values["owner"], values["content_hash"])
                sources[key] = _merged_source(sources[key], values) if key in sources else values
            source_ids = await repository.upsert_sources(session, list(sources.values()))
            facts = await repository.facts_for_update(
                session,
                [
                    (item.owner, item.project_id or DEFAULT_FACT_PROJECT, c.category or "", c.key)
                    for item, candidates, _, _, _ in todo
                    for c in candidates
                    if c.key is not None
                ],
            )
            probes = [
                (e, item.owner, c.tier.value)
                for item, candidates, vectors, _, _ in todo
                for c, e in zip(candidates, vectors, strict=True)
                if c.key is None and e is not None
            ]
            nearest = iter(await repository.nearest_many(session, probes))
            pending = _PendingInserts()
            finished: list[dict[str, Any]] = []
            results: dict[uuid.UUID, FormationResult] = {}
            for item, candidates, vectors, _, unextracted in todo:
                source_id = source_ids[(item.owner, content_hash(item.content))]
                outcome = _Outcome()
                for candidate, embedded in zip(candidates, vectors, strict=True):
                    if candidate.key is not None:
                        project = item.project_id or DEFAULT_FACT_PROJECT
                        fact_key = (item.owner, project, candidate.category or "", candidate.key)
                        if fact_key in pending.fact_keys:  # a second value for a fact of this batch
                            await pending.flush(session)
                            if (stale := facts.get(fact_key)) is not None:
                                # Changed by SQL updates since it was read: the lookup below reloads it.
                                session.expire(stale)
                            await self._form_fact(session, item, candidate, embedded, source_id, outcome)
                        elif (existing := facts.get(fact_key)) is not None:
                            pending.fact_keys.add(fact_key)
                            await self._form_fact(
                                session, item, candidate, embedded, source_id, outcome, existing=existing
                            )
                        else:
                            pending.fact_keys.add(fact_key)
                            outcome.created.append(
                                pending.add(self._values(item, candidate, embedded, source_id), embedded)
                            )
                    elif embedded is None:  # matched by content hash, which needs the batch's rows stored
                        await pending.flush(session)
                        await self._form_memory(session, item, candidate, embedded, source_id, outcome)
                    else:
                        match = pending.nearest(next(nearest), embedded, item.owner, candidate.tier.value)
                        if match is not None and match[1] >= self.settings.formation_dedup_similarity:
                            if match[0] in pending.ids:
                                await pending.flush(session)
                            await repository.reinforce(
                                session,
                                match[0],
                                confidence=candidate.confidence,
                                importance_step=REINFORCE_STEP / 2,
                            )
                            await memories_repository.touch(session, [match[0]])
                            outcome.reinforced.append(match[0])
                        else:
                            outcome.created.append(
                                pending.add(self._values(item, candidate, embedded, source_id), embedded)
                            )
                result = FormationResult(
                    item_id=item.id,
                    source_id=source_id,
                    created=outcome.created,
                    reinforced=outcome.reinforced,
                    superseded=outcome.superseded,
                    contradictions=outcome.contradictions,
                    unextracted=unextracted is not None,
                )
                results[item.id] = result
                finished.append(
                    {
                        "item_id": item.id,
                        "source_id": source_id,
                        "unextracted": unextracted is not None,
                        "result": result.model_dump(mode="json"),
                    }
                )
            await pending.flush(session)
            await repository.finish_ingestions(session, finished)
            out: list[FormationResult] = []
            for item, *_ in batch:
                if item.id in results:
                    result = results.pop(item.id)
                    out.append(result)
                    # A later copy of the same item in this batch answers as a repeat delivery.
                    results[item.id] = result.model_copy(update={"duplicate_delivery": True})
                else:
                    done = await repository.ingestion(session, item.id)
                    out.append(_repeat(item.id, done.result if done else {}))
        return out

    def _source_values(self, item: IngestItem, trust: float) -> dict[str, Any]:
        return {
            "owner": item.owner,
            "kind": item.source.kind.value,
            "uri": item.source.uri,
            "title": item.source.title,
            "author": item.source.author,
            "content_hash": content_hash(item.content),
            "trust": trust,
            "fetched_at": item.source.fetched_at,
        }

    def _plain_episode(self, item: IngestItem, reason: str) -> _Candidate:
        return _Candidate(
            tier=MemoryTier.EPISODIC,
            content=item.content,
            confidence=1.0,
            importance=0.5,
            metadata={**item.metadata, "kind": "episode", "formation": "unextracted", "reason": reason},
        )

    def _candidates(self, item: IngestItem, extraction: Extraction, trust: float) -> list[_Candidate]:
        base = dict(item.metadata)
        out: list[_Candidate] = []
        for fact in extraction.facts:
            statement = fact.statement or f"{fact.subject} {fact.attribute.replace('_', ' ')} {fact.value}"
            out.append(
                _Candidate(
                    tier=MemoryTier.SEMANTIC,
                    content=statement,
                    confidence=round(fact.confidence * trust, 4),
                    importance=fact.importance,
                    metadata={
                        **base,
                        "kind": "fact",
                        "subject": fact.subject,
                        "attribute": fact.attribute,
                        "value": fact.value,
                    },
                    category=normalised(fact.subject),
                    key=normalised(fact.attribute),
                    value=fact.value,
                )
            )
        for preference in extraction.preferences:
            out.append(
                _Candidate(
                    tier=MemoryTier.SEMANTIC,
                    content=preference.content,
                    confidence=round(preference.confidence * trust, 4),
                    importance=preference.importance,
                    metadata={**base, "kind": "preference"},
                )
            )
        for entity in extraction.entities:
            described = f"{entity.name} ({entity.kind})" + (
                f": {entity.description}" if entity.description else ""
            )
            out.append(
                _Candidate(
                    tier=MemoryTier.SEMANTIC,
                    content=described,
                    confidence=round(entity.confidence * trust, 4),
                    importance=entity.importance,
                    metadata={**base, "kind": "entity", "name": entity.name, "entity_kind": entity.kind},
                )
            )
        if extraction.summary:
            out.append(
                _Candidate(
                    tier=MemoryTier.EPISODIC,
                    content=extraction.summary,
                    confidence=round(trust, 4),
                    importance=extraction.summary_importance,
                    metadata={**base, "kind": "episode"},
                )
            )
        return out

    def _values(
        self, item: IngestItem, candidate: _Candidate, embedded: EmbeddedText | None, source_id: uuid.UUID
    ) -> dict[str, Any]:
        create = MemoryCreate(
            content=candidate.content,
            tier=candidate.tier,
            agent_id=item.agent_id,
            project_id=(item.project_id or DEFAULT_FACT_PROJECT) if candidate.key else item.project_id,
            category=candidate.category,
            key=candidate.key,
            confidence=candidate.confidence,
            metadata=candidate.metadata,
            owner=item.owner,
        )
        values = self.memories.row_values(create, embedded)
        values.update(source_id=source_id, importance=candidate.importance)
        return values

    async def _insert(
        self,
        session: AsyncSession,
        item: IngestItem,
        candidate: _Candidate,
        embedded: EmbeddedText | None,
        source_id: uuid.UUID,
    ) -> uuid.UUID:
        values = self._values(item, candidate, embedded, source_id)
        [row] = await memories_repository.insert_memories(session, [values])
        return row.id

    async def _form_memory(
        self,
        session: AsyncSession,
        item: IngestItem,
        candidate: _Candidate,
        embedded: EmbeddedText | None,
        source_id: uuid.UUID,
        outcome: _Outcome,
    ) -> None:
        existing_id: uuid.UUID | None = None
        if embedded is not None:
            match = await repository.nearest(session, embedded, owner=item.owner, tier=candidate.tier.value)
            if match is not None and match[1] >= self.settings.formation_dedup_similarity:
                existing_id = match[0]
        else:
            existing_id = await repository.same_content(
                session, owner=item.owner, tier=candidate.tier.value, digest=content_hash(candidate.content)
            )
        if existing_id is not None:
            await repository.reinforce(
                session, existing_id, confidence=candidate.confidence, importance_step=REINFORCE_STEP / 2
            )
            await memories_repository.touch(session, [existing_id])
            outcome.reinforced.append(existing_id)
            return
        outcome.created.append(await self._insert(session, item, candidate, embedded, source_id))

    async def _form_fact(
        self,
        session: AsyncSession,
        item: IngestItem,
        candidate: _Candidate,
        embedded: EmbeddedText | None,
        source_id: uuid.UUID,
        outcome: _Outcome,
        *,
        existing: Any = None,
    ) -> None:
        """`existing`: the fact as already read (and locked) by the caller; read here when None."""
        assert candidate.category is not None and candidate.key is not None  # facts are keyed
        project = item.project_id or DEFAULT_FACT_PROJECT
        if existing is None:
            existing = await memories_repository.fact_for_update(
                session, item.owner, project, candidate.category, candidate.key
            )
        if existing is None:
            outcome.created.append(await self._insert(session, item, candidate, embedded, source_id))
            return
        old_value = str(existing.metadata_.get("value") or existing.content)
        if (
            normalised(old_value) == normalised(candidate.value or "")
            or existing.content == candidate.content
        ):
            await repository.reinforce(
                session, existing.id, confidence=candidate.confidence, importance_step=REINFORCE_STEP
            )
            await memories_repository.touch(session, [existing.id])
            outcome.reinforced.append(existing.id)
            return
        # A different value for the same subject and attribute: the newer statement wins unless its
        # source is trusted clearly less than the belief it would replace.
        wins = candidate.confidence >= existing.confidence - self.settings.formation_supersede_margin
        outcome.contradictions.append(
            await repository.add_contradiction(
                session,
                memory_id=existing.id,
                owner=item.owner,
                previous_content=existing.content,
                new_content=candidate.content,
                new_confidence=candidate.confidence,
                state="superseded" if wins else "pending",
                source_id=source_id,
            )
        )
        if not wins:
            return
        await self.supersede(
            session,
            existing,
            candidate.content,
            candidate.value,
            candidate.confidence,
            embedded,
            source_id,
            extra_metadata=candidate.metadata,
        )
        outcome.superseded.append(existing.id)

    async def supersede(
        self,
        session: AsyncSession,
        existing: Any,
        content: str,
        value: str | None,
        confidence: float,
        embedded: EmbeddedText | None,
        source_id: uuid.UUID | None,
        *,
        extra_metadata: dict[str, Any] | None = None,
    ) -> None:
        """Replace a fact's value; the old one stays in its history with its confidence lowered."""
        lowered = round(existing.confidence * self.settings.formation_superseded_confidence_factor, 4)
        await memories_repository.add_revision(session, existing.id, existing.content, lowered)
        metadata = {**existing.metadata_, **(extra_metadata or {})}
        if value is not None:
            metadata["value"] = value
        else:  # the old value no longer describes the content; comparisons fall back to the content
            metadata.pop("value", None)
        metadata["superseded_at"] = datetime.now(UTC).isoformat()
        values: dict[str, Any] = {
            "content": content,
            "content_hash": content_hash(content),
            "confidence": confidence,
            "metadata_": metadata,
            "source_id": source_id,
        }
        if embedded is not None:
            values.update(
                embedding=embedded.vector,
                embedding_model=embedded.model,
                embedding_dim=embedded.dim,
                embedded_at=datetime.now(UTC),
            )
        else:
            values.update(embedding=None, embedding_model=None, embedding_dim=None, embedded_at=None)
        await memories_repository.update_memory(session, existing.id, values)
        await memories_repository.touch(session, [existing.id])


def _collided(exc: DBAPIError) -> bool:
    """A unique violation, deadlock or serialization failure: another transaction won a race."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return (isinstance(exc, IntegrityError) and code in (None, "23505")) or code in ("40P01", "40001")


def _repeat(item_id: uuid.UUID, stored: dict[str, Any]) -> FormationResult:
    if not stored.get("source_id"):  # claimed by a transaction that is still running
        raise RuntimeError(f"item {item_id} is being formed by another transaction")
    return FormationResult.model_validate({**stored, "duplicate_delivery": True})


def _merged_source(first: dict[str, Any], again: dict[str, Any]) -> dict[str, Any]:
    """One source named by two items of a batch, merged as `upsert_source` would merge the second."""
    merged = dict(first)
    merged["trust"] = max(first["trust"], again["trust"])
    for column in ("uri", "title", "author"):
        merged[column] = first[column] if first[column] is not None else again[column]
    return merged


class _PendingInserts:
    """New memories of a batch, inserted together; what reads them (a near-duplicate search by content
    hash, a second value of the same fact) flushes them first."""

    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []
        self.ids: set[uuid.UUID] = set()
        self.fact_keys: set[tuple[str, str, str, str]] = set()
        # Unkeyed memories created in this batch: the database's nearest neighbours predate them.
        self.fresh: list[tuple[uuid.UUID, str, str, EmbeddedText, np.ndarray]] = []

    def add(self, values: dict[str, Any], embedded: EmbeddedText | None) -> uuid.UUID:
        self.values.append(values)
        self.ids.add(values["id"])
        if values["key"] is None and embedded is not None:
            unit = np.asarray(embedded.vector, dtype=np.float64)
            unit /= max(float(np.linalg.norm(unit)), 1e-12)
            self.fresh.append((values["id"], values["owner"], values["tier"], embedded, unit))
        return uuid.UUID(str(values["id"]))

    def nearest(
        self, stored: tuple[uuid.UUID, float] | None, embedded: EmbeddedText, owner: str, tier: str
    ) -> tuple[uuid.UUID, float] | None:
        """The closer of the stored nearest neighbour and this batch's own new memories."""
        best = stored
        probe: np.ndarray | None = None
        for memory_id, fresh_owner, fresh_tier, other, unit in self.fresh:
            if (fresh_owner, fresh_tier, other.model, other.dim) != (
                owner,
                tier,
                embedded.model,
                embedded.dim,
            ):
                continue
            if probe is None:
                probe = np.asarray(embedded.vector, dtype=np.float64)
                probe /= max(float(np.linalg.norm(probe)), 1e-12)
            similarity = float(probe @ unit)
            if best is None or similarity > best[1]:
                best = (memory_id, similarity)
        return best

    async def flush(self, session: AsyncSession) -> None:
        if self.values:
            await repository.insert_memory_rows(session, self.values)
            self.values = []
            self.ids = set()
