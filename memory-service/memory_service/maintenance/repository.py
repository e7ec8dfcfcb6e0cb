"""SQL for the maintenance loops: expiring working memory, finding/merging near-duplicates, and the
keyword statistics (document frequencies) that BM25 ranks with."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Float, cast, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from memory_service.db.models import KeywordCorpusRow, KeywordLexemeRow, MemoryMergeRow, MemoryRow
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.memories.repository import not_expired

NEIGHBOURS_PER_MEMORY = 5
# Names the transaction-scoped lock under which one replica rebuilds the keyword statistics (ASCII "nova-kws").
KEYWORD_STATISTICS_LOCK_KEY = 0x6E6F76612D6B7773

# ts_stat takes the query whose tsvectors it counts as text.
TS_STAT_QUERY = "SELECT search_tsv FROM memories"

# (number of memories, newest updated_at): any store, content change or deletion changes it.
MemoriesSignature = tuple[int, datetime | None]


@dataclass(frozen=True)
class NearDuplicate:
    a: uuid.UUID
    b: uuid.UUID
    similarity: float


async def delete_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(MemoryRow).where(MemoryRow.expires_at <= func.now()).returning(MemoryRow.id)
    )
    return len(result.all())


def _compactable(row: Any, target: EmbeddingTarget) -> list[Any]:
    # Keyed facts are distinct by their key, and working memory expires anyway: neither is merged.
    return [
        row.embedding_model == target.model,
        row.embedding_dim == target.dim,
        row.key.is_(None),
        row.tier != "working",
    ]


Watermark = tuple[datetime, uuid.UUID]


async def recently_embedded(
    session: AsyncSession, target: EmbeddingTarget, since: Watermark | None, limit: int
) -> list[Watermark]:
    """(embedded_at, id) of the next memories to check, in that order. A whole batch embedded by one
    statement shares its timestamp, so the id breaks the tie and no row is skipped at a batch edge."""
    stmt = select(MemoryRow.embedded_at, MemoryRow.id).where(*_compactable(MemoryRow, target), not_expired())
    if since is not None:
        stmt = stmt.where(tuple_(MemoryRow.embedded_at, MemoryRow.id) > tuple_(*since))
    rows = await session.execute(stmt.order_by(MemoryRow.embedded_at, MemoryRow.id).limit(limit))
    return [(embedded_at, memory_id) for embedded_at, memory_id in rows if embedded_at is not None]


async def near_duplicates(
    session: AsyncSession, target: EmbeddingTarget, ids: Sequence[uuid.UUID], threshold: float
) -> list[NearDuplicate]:
    """For each of `ids`, its nearest neighbours in the same tier, agent and project at ≥ `threshold`."""
    if not ids:
        return []
    dim = target.dim
    source = aliased(MemoryRow, name="source")
    other = aliased(MemoryRow, name="other")
    distance = cast(other.embedding, VECTOR(dim)).op("<=>", return_type=Float)(
        cast(source.embedding, VECTOR(dim))
    )
    neighbours = (
        select(other.id.label("id"), distance.label("distance"))
        .where(
            *_compactable(other, target),
            other.id != source.id,
            other.tier == source.tier,
            other.agent_id.is_not_distinct_from(source.agent_id),
            other.project_id.is_not_distinct_from(source.project_id),
            _not_expired(other),
        )
        .order_by(distance)
        .limit(NEIGHBOURS_PER_MEMORY)
        .lateral("neighbours")
    )
    # Iterative scans (so the filters above cannot leave a source without neighbours) are every connection's
    # default (db/engine.py): no statement to set them.
    rows = await session.execute(
        select(source.id, neighbours.c.id, 1.0 - neighbours.c.distance)
        .select_from(source)
        .join(neighbours, neighbours.c.distance <= 1.0 - threshold)
        .where(source.id.in_(ids))
    )
    return [NearDuplicate(a, b, float(similarity)) for a, b, similarity in rows]


def _not_expired(row: Any) -> Any:
    return row.expires_at.is_(None) | (row.expires_at > func.now())


async def lock_memories(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[MemoryRow]:
    stmt = select(MemoryRow).where(MemoryRow.id.in_(ids)).order_by(MemoryRow.id).with_for_update(of=MemoryRow)
    return list((await session.scalars(stmt)).unique())


async def record_merge(session: AsyncSession, kept: MemoryRow, merged: MemoryRow, similarity: float) -> None:
    session.add(
        MemoryMergeRow(
            kept_id=kept.id,
            merged_id=merged.id,
            content=merged.content,
            metadata_=merged.metadata_,
            confidence=merged.confidence,
            similarity=similarity,
        )
    )
    # What was merged into the merged memory earlier now belongs to the survivor.
    await session.execute(
        update(MemoryMergeRow).where(MemoryMergeRow.kept_id == merged.id).values(kept_id=kept.id)
    )
    await session.flush()


async def delete_memories(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(MemoryRow).where(MemoryRow.id.in_(ids)))


async def set_metadata(session: AsyncSession, memory_id: uuid.UUID, metadata: dict[str, Any]) -> None:
    await session.execute(update(MemoryRow).where(MemoryRow.id == memory_id).values(metadata_=metadata))


async def try_lock_keyword_statistics(session: AsyncSession) -> bool:
    locked = await session.scalar(select(func.pg_try_advisory_xact_lock(KEYWORD_STATISTICS_LOCK_KEY)))
    return bool(locked)


async def memories_signature(session: AsyncSession) -> MemoriesSignature:
    count, newest = (await session.execute(select(func.count(), func.max(MemoryRow.updated_at)))).one()
    return int(count), newest


async def keyword_statistics_signature(session: AsyncSession) -> MemoriesSignature | None:
    row = (
        await session.execute(select(KeywordCorpusRow.memories_count, KeywordCorpusRow.memories_updated_at))
    ).first()
    return None if row is None else (int(row[0]), row[1])


async def rebuild_keyword_statistics(session: AsyncSession, signature: MemoriesSignature) -> int:
    """Replace the lexeme document frequencies and corpus size; returns the number of lexemes."""
    await session.execute(delete(KeywordLexemeRow))
    stat = func.ts_stat(literal(TS_STAT_QUERY)).table_valued("word", "ndoc", "nentry")
    result = await session.execute(
        insert(KeywordLexemeRow).from_select(["lexeme", "documents"], select(stat.c.word, stat.c.ndoc))
    )
    lexemes: int = result.rowcount  # type: ignore[attr-defined]  # a CursorResult at run time
    documents, average = (
        await session.execute(
            select(func.count(), func.coalesce(func.avg(func.length(MemoryRow.search_tsv)), 0.0))
        )
    ).one()
    values = {
        "documents": documents,
        "average_length": float(average),
        "memories_count": signature[0],
        "memories_updated_at": signature[1],
        "refreshed_at": func.now(),
    }
    await session.execute(
        pg_insert(KeywordCorpusRow)
        .values(id=1, **values)
        .on_conflict_do_update(index_elements=[KeywordCorpusRow.id], set_=values)
    )
    return lexemes
