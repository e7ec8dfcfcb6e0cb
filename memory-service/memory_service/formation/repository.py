"""Every SQL statement of memory formation: sources, ingestions, contradictions, retrievals, summary links,
consolidation runs, and the nearest-neighbour lookup that tells a new memory from a repeat."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Float, bindparam, cast, func, insert, literal_column, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from memory_service.db.engine import driver_connection
from memory_service.db.models import (
    ConsolidationRunRow,
    ContradictionRow,
    IngestionRow,
    MemoryAccessRow,
    MemoryLinkRow,
    MemoryRow,
    RetrievalRow,
    SourceRow,
)
from memory_service.embeddings.service import EmbeddedText
from memory_service.memories import repository as memories_repository
from memory_service.memories.repository import not_expired


async def claim_ingestion(session: AsyncSession, item_id: uuid.UUID) -> bool:
    """Record the item as formed (in the caller's transaction); False if an earlier delivery did already."""
    stmt = (
        pg_insert(IngestionRow)
        .values(item_id=item_id)
        .on_conflict_do_nothing()
        .returning(IngestionRow.item_id)
    )
    return (await session.execute(stmt)).first() is not None


async def ingestion(session: AsyncSession, item_id: uuid.UUID) -> IngestionRow | None:
    return await session.get(IngestionRow, item_id)


async def finish_ingestion(
    session: AsyncSession, item_id: uuid.UUID, source_id: uuid.UUID, unextracted: bool, result: dict[str, Any]
) -> None:
    await session.execute(
        update(IngestionRow)
        .where(IngestionRow.item_id == item_id)
        .values(source_id=source_id, unextracted=unextracted, result=result)
    )


async def upsert_source(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID:
    """The (owner, content hash) source, created or refreshed: a text heard again keeps its first row,
    gains what it lacked (URI, title, author) and the higher trust of the two."""
    insert = pg_insert(SourceRow).values(id=uuid.uuid4(), **values)
    upsert = insert.on_conflict_do_update(
        constraint="sources_owner_content_unique",
        set_={
            "ingested_at": func.now(),
            "trust": func.greatest(SourceRow.trust, insert.excluded.trust),
            "uri": func.coalesce(SourceRow.uri, insert.excluded.uri),
            "title": func.coalesce(SourceRow.title, insert.excluded.title),
            "author": func.coalesce(SourceRow.author, insert.excluded.author),
        },
    ).returning(SourceRow.id)
    source_id: uuid.UUID = (await session.execute(upsert)).scalar_one()
    return source_id


async def claim_ingestions(session: AsyncSession, item_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """`claim_ingestion` for a batch in one statement: the ids no earlier delivery has formed."""
    rows = await session.execute(_CLAIM_MANY, {"ids": list(item_ids)})
    return {item_id for (item_id,) in rows}


async def insert_memory_rows(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Insert memories given as attribute dicts (ids included) without reading them back."""
    await session.execute(insert(MemoryRow), values)


async def finish_ingestions(session: AsyncSession, finished: list[dict[str, Any]]) -> None:
    """`finish_ingestion` for a batch: dicts of item_id, source_id, unextracted and result."""
    if finished:
        await session.execute(update(IngestionRow), finished)


async def upsert_sources(
    session: AsyncSession, values: list[dict[str, Any]]
) -> dict[tuple[str, str], uuid.UUID]:
    """`upsert_source` for a batch in one statement, keyed by (owner, content hash). A batch names each
    source once (ON CONFLICT cannot update one row twice in a statement): the caller merges repeats."""
    columns = ("owner", "kind", "uri", "title", "author", "content_hash", "trust", "fetched_at")
    # Sorted so two batches upserting overlapping sources lock them in the same order.
    ordered = sorted(values, key=lambda v: (v["owner"], v["content_hash"]))
    params: dict[str, Any] = {"ids": [uuid.uuid4() for _ in ordered]}
    params.update({f"{c}s": [v[c] for v in ordered] for c in columns})
    rows = await session.execute(_UPSERT_SOURCES, params)
    return {(owner, digest): source_id for source_id, owner, digest in rows}


async def facts_for_update(
    session: AsyncSession, keys: Sequence[tuple[str, str, str, str]]
) -> dict[tuple[str, str, str, str], MemoryRow]:
    """The facts with these (owner, project, category, key) keys, locked like `fact_for_update`."""
    if not keys:
        return {}
    stmt = (
        select(MemoryRow)
        .where(
            MemoryRow.tier == "semantic",
            tuple_(MemoryRow.owner, MemoryRow.project_id, MemoryRow.category, MemoryRow.key).in_(
                sorted(set(keys))
            ),
        )
        .order_by(MemoryRow.id)
        .with_for_update(of=MemoryRow)
    )
    rows = (await session.scalars(stmt)).unique()
    return {(r.owner, r.project_id or "", r.category or "", r.key or ""): r for r in rows}


async def nearest_many(
    session: AsyncSession, probes: Sequence[tuple[EmbeddedText, str, str]]
) -> list[tuple[uuid.UUID, float] | None]:
    """`nearest` for many (vector, owner, tier) probes in one statement per embedding model, in order."""
    found: list[tuple[uuid.UUID, float] | None] = [None] * len(probes)
    by_model: dict[tuple[str, int], list[int]] = {}
    for i, (embedded, _, _) in enumerate(probes):
        by_model.setdefault((embedded.model, embedded.dim), []).append(i)
    for (model, dim), indexes in by_model.items():
        # The dimension is part of the SQL (not a parameter) so the partial HNSW index's expression matches.
        sql = _NEAREST_MANY.replace(":dim_literal", str(int(dim)))
        rows = await session.execute(
            text(sql),
            {
                "positions": indexes,
                "owners": [probes[i][1] for i in indexes],
                "tiers": [probes[i][2] for i in indexes],
                "vectors": [_vector_text(probes[i][0].vector) for i in indexes],
                "model": model,
                "dim": dim,
            },
        )
        for position, memory_id, distance in rows:
            found[position] = (memory_id, 1.0 - float(distance))
    return found


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(map(str, vector)) + "]"


_CLAIM_MANY = text(
    "INSERT INTO ingestions (item_id) SELECT unnest(CAST(:ids AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING item_id"
)
_UPSERT_SOURCES = text(
    """
    INSERT INTO sources (id, owner, kind, uri, title, author, content_hash, trust, fetched_at)
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:owners AS text[]), CAST(:kinds AS text[]),
        CAST(:uris AS text[]), CAST(:titles AS text[]), CAST(:authors AS text[]),
        CAST(:content_hashs AS text[]), CAST(:trusts AS float8[]), CAST(:fetched_ats AS timestamptz[]))
    ON CONFLICT ON CONSTRAINT sources_owner_content_unique DO UPDATE SET
        ingested_at = now(),
        trust = greatest(sources.trust, excluded.trust),
        uri = coalesce(sources.uri, excluded.uri),
        title = coalesce(sources.title, excluded.title),
        author = coalesce(sources.author, excluded.author)
    RETURNING id, owner, content_hash
    """
)
_NEAREST_MANY = """
    SELECT p.position, n.id, n.distance
    FROM unnest(CAST(:positions AS int[]), CAST(:owners AS text[]), CAST(:tiers AS text[]),
                CAST(:vectors AS text[])) AS p(position, owner, tier, vector)
    CROSS JOIN LATERAL (
        SELECT m.id, m.embedding::vector(:dim_literal) <=> CAST(p.vector AS vector(:dim_literal)) AS distance
        FROM memories m
        WHERE m.embedding_model = :model AND m.embedding_dim = :dim AND m.owner = p.owner
          AND m.tier = p.tier AND m.key IS NULL AND (m.expires_at IS NULL OR m.expires_at > now())
        ORDER BY distance
        LIMIT 1
    ) n
"""


async def sources_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SourceRow]:
    if not ids:
        return {}
    rows = await session.scalars(select(SourceRow).where(SourceRow.id.in_(set(ids))))
    return {row.id: row for row in rows}


async def memory_counts(session: AsyncSession, source_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not source_ids:
        return {}
    rows = await session.execute(
        select(MemoryRow.source_id, func.count())
        .where(MemoryRow.source_id.in_(source_ids))
        .group_by(MemoryRow.source_id)
    )
    return {source_id: int(count) for source_id, count in rows if source_id is not None}


async def list_sources(
    session: AsyncSession, *, owner: str | None, kind: str | None, offset: int, limit: int
) -> tuple[list[SourceRow], int]:
    conditions = []
    if owner is not None:
        conditions.append(SourceRow.owner == owner)
    if kind is not None:
        conditions.append(SourceRow.kind == kind)
    total = await session.scalar(select(func.count()).select_from(SourceRow).where(*conditions))
    rows = await session.scalars(
        select(SourceRow)
        .where(*conditions)
        .order_by(SourceRow.ingested_at.desc(), SourceRow.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def nearest(
    session: AsyncSession, embedded: EmbeddedText, *, owner: str, tier: str
) -> tuple[uuid.UUID, float] | None:
    """The id of the owner's closest unkeyed memory of `tier` embedded with the same model, and its cosine."""
    distance = cast(MemoryRow.embedding, VECTOR(embedded.dim)).op("<=>", return_type=Float)(
        cast(bindparam("probe", embedded.vector, type_=VECTOR()), VECTOR(embedded.dim))
    )
    stmt = (
        select(MemoryRow.id, distance)
        .where(
            MemoryRow.embedding_model == embedded.model,
            MemoryRow.embedding_dim == embedded.dim,
            MemoryRow.owner == owner,
            MemoryRow.tier == tier,
            MemoryRow.key.is_(None),
            not_expired(),
        )
        .order_by(distance)
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return row[0], 1.0 - float(row[1])


async def same_content(session: AsyncSession, *, owner: str, tier: str, digest: str) -> uuid.UUID | None:
    """An identical unkeyed memory of the owner (for texts stored before they could be embedded)."""
    stmt = select(MemoryRow.id).where(
        MemoryRow.owner == owner,
        MemoryRow.tier == tier,
        MemoryRow.content_hash == digest,
        MemoryRow.key.is_(None),
        not_expired(),
    )
    found: uuid.UUID | None = await session.scalar(stmt.limit(1))
    return found


async def reinforce(
    session: AsyncSession, memory_id: uuid.UUID, *, confidence: float, importance_step: float
) -> None:
    """Heard again: confidence rises to at least the new statement's, importance a step towards 1."""
    await session.execute(
        update(MemoryRow)
        .where(MemoryRow.id == memory_id)
        .values(
            confidence=func.greatest(MemoryRow.confidence, confidence),
            importance=func.least(1.0, MemoryRow.importance + importance_step * (1.0 - MemoryRow.importance)),
        )
    )


async def add_contradiction(session: AsyncSession, **values: Any) -> uuid.UUID:
    row = ContradictionRow(id=uuid.uuid4(), **values)
    session.add(row)
    await session.flush()
    return row.id


async def list_contradictions(
    session: AsyncSession, *, owner: str | None, state: str | None, offset: int, limit: int
) -> tuple[list[tuple[ContradictionRow, MemoryRow]], int]:
    conditions = []
    if owner is not None:
        conditions.append(ContradictionRow.owner == owner)
    if state is not None:
        conditions.append(ContradictionRow.state == state)
    total = await session.scalar(select(func.count()).select_from(ContradictionRow).where(*conditions))
    rows = await session.execute(
        select(ContradictionRow, MemoryRow)
        .join(MemoryRow, MemoryRow.id == ContradictionRow.memory_id)
        .where(*conditions)
        .order_by(ContradictionRow.created_at.desc(), ContradictionRow.id)
        .offset(offset)
        .limit(limit)
    )
    return [(c, m) for c, m in rows.unique()], int(total or 0)


async def pending_contradictions(
    session: AsyncSession, limit: int
) -> list[tuple[ContradictionRow, MemoryRow]]:
    rows = await session.execute(
        select(ContradictionRow, MemoryRow)
        .join(MemoryRow, MemoryRow.id == ContradictionRow.memory_id)
        .where(ContradictionRow.state == "pending")
        .order_by(ContradictionRow.created_at)
        .limit(limit)
        .with_for_update(of=[ContradictionRow, MemoryRow])
    )
    return [(c, m) for c, m in rows.unique()]


async def set_contradiction_state(session: AsyncSession, contradiction_id: uuid.UUID, state: str) -> None:
    await session.execute(
        update(ContradictionRow)
        .where(ContradictionRow.id == contradiction_id)
        .values(state=state, resolved_at=func.now())
    )


# Counts the surfaced memories as accessed (locked in id order like `touch`, so concurrent turns cannot
# deadlock; a memory deleted since the search is skipped) and records the retrieval, in one statement: one
# round trip after every chat turn's context is sent, where the ORM took four.
# synchronous_commit is off for this statement's own transaction only: access counts and retrievals are
# statistics and feedback bookkeeping, so after a crash of PostgreSQL the last few may be missing (never
# half-written), and the turn does not wait for the WAL flush. The INSERT takes its row from `durability`,
# which is what makes PostgreSQL apply the setting before the commit.
_RECORD_RETRIEVAL = """
WITH durability AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
),
surfaced AS (
    SELECT id FROM memories WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE
),
touched AS (
    INSERT INTO memory_access (memory_id, access_count, last_accessed_at)
    SELECT id, 1, now() FROM surfaced
    ON CONFLICT (memory_id) DO UPDATE
    SET access_count = memory_access.access_count + 1, last_accessed_at = now()
)
INSERT INTO retrievals (id, owner, agent_id, query, surfaced)
SELECT $2::uuid, $3::text, $4::text, $5::text, $1::uuid[] FROM durability
"""


async def record_retrieval(
    session: AsyncSession,
    *,
    retrieval_id: uuid.UUID,
    owner: str | None,
    agent_id: str | None,
    query: str,
    surfaced: list[uuid.UUID],
) -> None:
    """Record a context assembly and count what it surfaced as accessed, committed on its own (see above)."""
    connection = await driver_connection(session)
    if connection.is_in_transaction():
        # The relaxed durability would extend to the caller's other writes.
        raise RuntimeError("record_retrieval commits on its own; call it outside a transaction")
    await connection.execute(_RECORD_RETRIEVAL, surfaced, retrieval_id, owner, agent_id, query)


async def retrieval_for_update(session: AsyncSession, retrieval_id: uuid.UUID) -> RetrievalRow | None:
    return await session.get(RetrievalRow, retrieval_id, with_for_update=True)


async def record_feedback(
    session: AsyncSession, retrieval_id: uuid.UUID, used: list[uuid.UUID], outcome: str
) -> None:
    await session.execute(
        update(RetrievalRow)
        .where(RetrievalRow.id == retrieval_id)
        .values(used=used, outcome=outcome, feedback_at=func.now())
    )


async def shift_importance(
    session: AsyncSession, ids: Sequence[uuid.UUID], *, step: float, floor: float, ceiling: float
) -> dict[uuid.UUID, float]:
    """Move importance a `step` share of the way to `ceiling` (step > 0) or to `floor` (step < 0):
    the closer to a bound, the smaller the move, so repeated feedback never leaves the bounds."""
    if not ids:
        return {}
    bound = ceiling if step > 0 else floor
    target = MemoryRow.importance + abs(step) * (bound - MemoryRow.importance)
    rows = await session.execute(
        update(MemoryRow)
        .where(MemoryRow.id.in_(sorted(set(ids))))
        .values(importance=func.least(ceiling, func.greatest(floor, target)))
        .returning(MemoryRow.id, MemoryRow.importance)
    )
    return {memory_id: float(importance) for memory_id, importance in rows}


async def retrieval_usage(session: AsyncSession) -> tuple[int, int, int, int]:
    """(retrievals, with feedback, memories surfaced by those with feedback, memories they used)."""
    row = (
        await session.execute(
            select(
                func.count(),
                func.count(RetrievalRow.feedback_at),
                func.coalesce(
                    func.sum(func.cardinality(RetrievalRow.surfaced)).filter(
                        RetrievalRow.feedback_at.is_not(None)
                    ),
                    0,
                ),
                func.coalesce(func.sum(func.cardinality(RetrievalRow.used)), 0),
            )
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def unlinked_episodes(
    session: AsyncSession, owner: str, limit: int
) -> list[tuple[MemoryRow, list[float]]]:
    """The owner's newest episodes no summary covers yet, embedded with the newest model, with their vectors."""
    linked = select(MemoryLinkRow.member_id)
    stmt = (
        select(MemoryRow)
        .where(
            MemoryRow.owner == owner,
            MemoryRow.tier == "episodic",
            MemoryRow.embedding.is_not(None),
            MemoryRow.id.not_in(linked),
            not_expired(),
        )
        .order_by(MemoryRow.created_at.desc())
        .limit(limit)
    )
    rows = list((await session.scalars(stmt)).unique())
    vectors = await memories_repository.vectors_of(session, [r.id for r in rows])
    # Only vectors of one model compare: keep the model most of these episodes use.
    tags = [vectors[r.id][0] for r in rows if r.id in vectors]
    if not tags:
        return []
    tag = max(set(tags), key=tags.count)
    return [(r, vectors[r.id][1]) for r in rows if r.id in vectors and vectors[r.id][0] == tag]


async def owners_with_episodes(session: AsyncSession) -> list[str]:
    rows = await session.scalars(select(MemoryRow.owner).where(MemoryRow.tier == "episodic").distinct())
    return list(rows)


async def link_summary(session: AsyncSession, summary_id: uuid.UUID, member_ids: Sequence[uuid.UUID]) -> None:
    session.add_all([MemoryLinkRow(summary_id=summary_id, member_id=m) for m in member_ids])
    await session.flush()


async def summary_members(session: AsyncSession, summary_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(MemoryLinkRow.member_id).where(MemoryLinkRow.summary_id == summary_id)
    )
    return list(rows)


async def decay_unused(session: AsyncSession, *, unused_since: datetime, factor: float, floor: float) -> int:
    """Importance times `factor` (not below `floor`) for memories nobody read since `unused_since`."""
    last_access = func.coalesce(
        select(MemoryAccessRow.last_accessed_at)
        .where(MemoryAccessRow.memory_id == MemoryRow.id)
        .scalar_subquery(),
        MemoryRow.created_at,
    )
    result = await session.execute(
        update(MemoryRow)
        .where(MemoryRow.tier != "working", MemoryRow.importance > floor, last_access < unused_since)
        .values(importance=func.greatest(floor, MemoryRow.importance * factor))
        .returning(MemoryRow.id)
    )
    return len(result.all())


async def start_run(session: AsyncSession, trigger: str) -> uuid.UUID:
    row = ConsolidationRunRow(id=uuid.uuid4(), trigger=trigger)
    session.add(row)
    await session.flush()
    return row.id


async def finish_run(session: AsyncSession, run_id: uuid.UUID, counts: dict[str, Any]) -> None:
    await session.execute(
        update(ConsolidationRunRow)
        .where(ConsolidationRunRow.id == run_id)
        .values(**counts, finished_at=func.now())
    )


async def runs(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[ConsolidationRunRow], int]:
    total = await session.scalar(select(func.count()).select_from(ConsolidationRunRow))
    rows = await session.scalars(
        select(ConsolidationRunRow)
        .order_by(ConsolidationRunRow.started_at.desc(), ConsolidationRunRow.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def counts_by_tier(session: AsyncSession, owner: str | None) -> dict[str, int]:
    stmt = select(MemoryRow.tier, func.count()).where(not_expired()).group_by(MemoryRow.tier)
    if owner is not None:
        stmt = stmt.where(MemoryRow.owner == owner)
    return {tier: int(n) for tier, n in await session.execute(stmt)}


async def counts_by_source_kind(session: AsyncSession, owner: str | None) -> dict[str, int]:
    kind = func.coalesce(SourceRow.kind, literal_column("'none'")).label("kind")
    stmt = (
        select(kind, func.count())
        .select_from(MemoryRow)
        .outerjoin(SourceRow, SourceRow.id == MemoryRow.source_id)
        .where(not_expired())
        .group_by(kind)
    )
    if owner is not None:
        stmt = stmt.where(MemoryRow.owner == owner)
    return {kind: int(n) for kind, n in await session.execute(stmt)}


async def count_unextracted(session: AsyncSession, owner: str | None) -> int:
    stmt = (
        select(func.count())
        .select_from(MemoryRow)
        .where(MemoryRow.metadata_["formation"].astext == "unextracted", not_expired())
    )
    if owner is not None:
        stmt = stmt.where(MemoryRow.owner == owner)
    return int(await session.scalar(stmt) or 0)


async def profile_rows(session: AsyncSession, owner: str, limit: int) -> list[MemoryRow]:
    """The owner's facts and preferences, most confident first."""
    kind = MemoryRow.metadata_["kind"].astext
    stmt = (
        select(MemoryRow)
        .where(
            MemoryRow.owner == owner,
            MemoryRow.tier == "semantic",
            (MemoryRow.key.is_not(None)) | (kind == "preference"),
            not_expired(),
        )
        .order_by(MemoryRow.confidence.desc(), MemoryRow.updated_at.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).unique())


async def last_ingestion_at(session: AsyncSession) -> datetime | None:
    value: datetime | None = await session.scalar(select(func.max(IngestionRow.formed_at)))
    return value


async def last_run(session: AsyncSession, *, trigger: str | None = None) -> ConsolidationRunRow | None:
    stmt = select(ConsolidationRunRow).order_by(ConsolidationRunRow.started_at.desc()).limit(1)
    if trigger is not None:
        stmt = stmt.where(ConsolidationRunRow.trigger == trigger)
    return (await session.scalars(stmt)).first()
