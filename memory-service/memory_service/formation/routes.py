"""HTTP routes of memory formation under /api/v1/memories (ingestion, sources, feedback, consolidation,
profile, stats). Included before the memory routes, so `/sources`, `/profile`… are never read as ids.
Like every memory route they take the service token (the orchestrator) or the admin secret (the dashboard);
`owner` is trusted for the same reason (see routes.py)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from memory_service.deps import FormationParts
from nova_common.auth import require_service
from nova_common.errors import NotFound
from nova_contracts.memory import (
    ConsolidationLog,
    ConsolidationRun,
    ConsolidationTrigger,
    ContradictionPage,
    DeadLetter,
    DeadLetterPage,
    FeedbackRequest,
    FeedbackResult,
    FormationResult,
    IngestAccepted,
    IngestItem,
    IngestRequest,
    MemoryStats,
    Owner,
    Profile,
    ProfileCorrection,
    QueueDepth,
    Source,
    SourceKind,
    SourcePage,
)

router = APIRouter(
    prefix="/api/v1/memories", tags=["memory formation"], dependencies=[Depends(require_service)]
)

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]
OwnerFilter = Annotated[Owner | None, Query(description="only this owner's")]
# A dead letter's id: the item's UUID, or `sha256:<hex>` for an entry that did not parse.
LetterId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9:\-]+$")]


@router.post("/ingest", status_code=202, response_model=IngestAccepted)
async def ingest(body: IngestRequest, formation: FormationParts) -> IngestAccepted:
    """Queue a text (chat turn, task result, page…) to be formed into memories; 429 when the queue is full."""
    item = IngestItem(id=uuid.uuid4(), enqueued_at=datetime.now(UTC), **body.model_dump())
    depth = await formation.queue.enqueue(item)
    return IngestAccepted(id=item.id, queue_depth=depth)


@router.get("/ingest/queue", response_model=QueueDepth)
async def get_ingest_queue(formation: FormationParts) -> QueueDepth:
    """How many items wait, are being formed, and have been dead-lettered."""
    return await formation.queue.depth()


@router.get("/ingest/dead-letters", response_model=DeadLetterPage)
async def list_dead_letters(
    formation: FormationParts, offset: Offset = 0, limit: Limit = 50
) -> DeadLetterPage:
    """Items that failed every attempt, newest first, with their last error and raw payload."""
    items, total = await formation.queue.dead_letters(offset=offset, limit=limit)
    return DeadLetterPage(items=items, total=total)


@router.post("/ingest/dead-letters/{letter_id}/requeue", response_model=DeadLetter)
async def requeue_dead_letter(letter_id: LetterId, formation: FormationParts) -> DeadLetter:
    """Put a dead letter back in the queue with a fresh set of attempts."""
    return await formation.queue.requeue_dead(letter_id)


@router.delete("/ingest/dead-letters/{letter_id}", status_code=204, response_class=Response)
async def delete_dead_letter(letter_id: LetterId, formation: FormationParts) -> Response:
    """Drop a dead letter for good."""
    await formation.queue.delete_dead(letter_id)
    return Response(status_code=204)


@router.get("/sources", response_model=SourcePage)
async def list_sources(
    formation: FormationParts,
    owner: OwnerFilter = None,
    kind: SourceKind | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> SourcePage:
    """Where memories came from, newest first, each with how many memories it gave."""
    return await formation.profiles.sources(owner=owner, kind=kind, offset=offset, limit=limit)


@router.get("/sources/{source_id}", response_model=Source)
async def get_source(source_id: uuid.UUID, formation: FormationParts) -> Source:
    """One source."""
    source = await formation.profiles.source(source_id)
    if source is None:
        raise NotFound(f"source {source_id} not found")
    return source


@router.post("/feedback", response_model=FeedbackResult)
async def give_feedback(body: FeedbackRequest, formation: FormationParts) -> FeedbackResult:
    """Which memories of a context assembly the turn used and how it ended; moves their importance."""
    return await formation.learning.feedback(body)


@router.post("/consolidate", response_model=ConsolidationRun)
async def consolidate(formation: FormationParts) -> ConsolidationRun:
    """Run consolidation now: merge near-duplicates, summarise episode clusters, decay, resolve contradictions."""
    return await formation.consolidator.run(ConsolidationTrigger.MANUAL)


@router.get("/consolidation-log", response_model=ConsolidationLog)
async def get_consolidation_log(
    formation: FormationParts, offset: Offset = 0, limit: Limit = 50
) -> ConsolidationLog:
    """Consolidation runs, newest first, with their counts."""
    return await formation.consolidator.log(offset=offset, limit=limit)


@router.get("/contradictions", response_model=ContradictionPage)
async def list_contradictions(
    formation: FormationParts,
    owner: OwnerFilter = None,
    state: Literal["superseded", "pending", "resolved", "rejected"] | None = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> ContradictionPage:
    """Facts a newer statement contradicted, for review, newest first."""
    return await formation.profiles.contradictions(owner=owner, state=state, offset=offset, limit=limit)


@router.get("/profile", response_model=Profile)
async def get_profile(
    formation: FormationParts, owner: Annotated[Owner, Query(description="whose profile")] = "admin"
) -> Profile:
    """What memory believes about an owner: facts and preferences with confidence and source."""
    return await formation.profiles.profile(owner)


@router.post("/profile/correct", response_model=FormationResult)
async def correct_profile(body: ProfileCorrection, formation: FormationParts) -> FormationResult:
    """Fix a belief in plain words; formed at once as a fully trusted source."""
    return await formation.profiles.correct(body)


@router.get("/stats", response_model=MemoryStats)
async def get_stats(formation: FormationParts, owner: OwnerFilter = None) -> MemoryStats:
    """Counts by tier and source kind, queue depth, last consolidation and retrieval usage."""
    return await formation.profiles.stats(owner)
