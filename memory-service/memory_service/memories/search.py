"""Hybrid retrieval: vector and full-text candidates fused and ranked in one SQL statement.

    dense   top-k by cosine over the HNSW index of the query vector's (model, dimension)
    sparse  top-k by ts_rank over the GIN index, the query's terms ORed
    fused   FULL OUTER JOIN of the two lists, scored by the chosen fusion method,
            then multiplied by the memory's (decayed) confidence

Every fused score lies in [0, 1] so `min_score` means the same thing for every method.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import Float, Select, Text, bindparam, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from sqlalchemy.sql.elements import ColumnElement

from memory_service.db.models import TEXT_SEARCH_CONFIG, MemoryRow
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.memories.decay import effective_confidence_sql
from nova_contracts.memory import FusionMethod


@dataclass(frozen=True)
class SearchFilters:
    tiers: list[str] | None = None
    agent_id: str | None = None
    # Context assembly reads an agent's own memories plus the shared ones (no agent).
    include_shared: bool = False
    project_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [
            or_(MemoryRow.expires_at.is_(None), MemoryRow.expires_at > func.now())
        ]
        if self.tiers:
            conditions.append(MemoryRow.tier.in_(self.tiers))
        if self.agent_id is not None:
            own = MemoryRow.agent_id == self.agent_id
            conditions.append(or_(own, MemoryRow.agent_id.is_(None)) if self.include_shared else own)
        if self.project_id is not None:
            conditions.append(MemoryRow.project_id == self.project_id)
        if self.metadata:
            conditions.append(MemoryRow.metadata_.contains(self.metadata))
        return conditions


@dataclass(frozen=True)
class SearchPlan:
    query: str
    fusion: FusionMethod
    limit: int
    candidates: int
    vector_weight: float
    rrf_k: int
    ef_search: int
    rank_normalization: int
    decay_exponent: float
    vector: list[float] | None = None
    target: EmbeddingTarget | None = None
    min_score: float | None = None


@dataclass(frozen=True)
class ScoredMemory:
    row: MemoryRow
    score: float
    vector_score: float | None
    keyword_score: float | None


def _or_query(query: str) -> ColumnElement[Any]:
    # plainto_tsquery ANDs the terms, so a natural-language question would match almost nothing;
    # its output is re-read with OR between the same (already normalised, quoted) lexemes.
    anded = cast(func.plainto_tsquery(literal_column(f"'{TEXT_SEARCH_CONFIG}'::regconfig"), query), Text)
    return cast(func.replace(anded, " & ", " | "), TSQUERY)


def _dense(plan: SearchPlan, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    assert plan.vector is not None and plan.target is not None
    dim = plan.target.dim
    # The cast to vector(dim) and the (model, dim) filter are exactly the partial index's expression and
    # predicate: that is what lets the planner use it, and what keeps other models' vectors out.
    distance = cast(MemoryRow.embedding, VECTOR(dim)).op("<=>", return_type=Float)(
        cast(bindparam("query_vector", plan.vector, type_=VECTOR()), VECTOR(dim))
    )
    nearest = (
        select(MemoryRow.id, distance.label("distance"))
        .where(MemoryRow.embedding_model == plan.target.model, MemoryRow.embedding_dim == dim, *conditions)
        .order_by(distance)
        .limit(plan.candidates)
        .cte("nearest")
    )
    # Iterative HNSW scans may return rows slightly out of order; the ranks are taken after a re-sort.
    similarity = 1.0 - nearest.c.distance
    return select(
        nearest.c.id,
        similarity.label("vscore"),
        func.row_number().over(order_by=nearest.c.distance).label("vrank"),
        func.min(similarity).over().label("vmin"),
        func.max(similarity).over().label("vmax"),
    )


def _sparse(plan: SearchPlan, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    tsquery = _or_query(plan.query)
    rank = cast(func.ts_rank(MemoryRow.search_tsv, tsquery, plan.rank_normalization), Float)
    matches = (
        select(MemoryRow.id, rank.label("rank"))
        .where(MemoryRow.search_tsv.op("@@")(tsquery), *conditions)
        .order_by(rank.desc())
        .limit(plan.candidates)
        .cte("matches")
    )
    return select(
        matches.c.id,
        matches.c.rank.label("kscore"),
        func.row_number().over(order_by=matches.c.rank.desc()).label("krank"),
        func.min(matches.c.rank).over().label("kmin"),
        func.max(matches.c.rank).over().label("kmax"),
    )


def _min_max(score: Any, low: Any, high: Any) -> ColumnElement[Any]:
    """Min-max normalisation over the leg's candidates; absent from the leg counts as its minimum."""
    spread = high - low
    return case((score.is_(None), 0.0), (spread > 0, (score - low) / spread), else_=1.0)


def _fused(plan: SearchPlan, conditions: list[ColumnElement[bool]]) -> Any:
    w = plan.vector_weight
    if plan.fusion is FusionMethod.DENSE:
        dense = _dense(plan, conditions).cte("dense")
        return select(
            dense.c.id,
            func.greatest(dense.c.vscore, 0.0).label("fscore"),
            dense.c.vscore,
            literal(None, Float).label("kscore"),
        ).cte("fused")
    if plan.fusion is FusionMethod.KEYWORD:
        sparse = _sparse(plan, conditions).cte("sparse")
        normalised = case((sparse.c.kmax > 0, sparse.c.kscore / sparse.c.kmax), else_=0.0)
        return select(
            sparse.c.id, normalised.label("fscore"), literal(None, Float).label("vscore"), sparse.c.kscore
        ).cte("fused")

    dense = _dense(plan, conditions).cte("dense")
    sparse = _sparse(plan, conditions).cte("sparse")
    if plan.fusion is FusionMethod.RRF:
        k = float(plan.rrf_k)
        vpart = func.coalesce(1.0 / (k + dense.c.vrank), 0.0)
        kpart = func.coalesce(1.0 / (k + sparse.c.krank), 0.0)
        # Divided by the best possible value (rank 1 in both lists), so scores land in [0, 1].
        fscore = (w * vpart + (1.0 - w) * kpart) / (1.0 / (k + 1.0))
    else:
        vnorm = _min_max(dense.c.vscore, dense.c.vmin, dense.c.vmax)
        knorm = _min_max(sparse.c.kscore, sparse.c.kmin, sparse.c.kmax)
        fscore = w * vnorm + (1.0 - w) * knorm
    return (
        select(
            func.coalesce(dense.c.id, sparse.c.id).label("id"),
            fscore.label("fscore"),
            dense.c.vscore,
            sparse.c.kscore,
        )
        .select_from(dense.join(sparse, dense.c.id == sparse.c.id, full=True))
        .cte("fused")
    )


async def hybrid_search(
    session: AsyncSession, plan: SearchPlan, filters: SearchFilters
) -> list[ScoredMemory]:
    """The best `plan.limit` memories, best first. Needs `plan.vector` unless the fusion is keyword-only."""
    fused = _fused(plan, filters.conditions())
    # least(): float4 ts_rank divided in float8 can overshoot 1 by a rounding error.
    score = func.least(fused.c.fscore * effective_confidence_sql(plan.decay_exponent), 1.0).label("score")
    stmt = (
        select(MemoryRow, score, fused.c.vscore, fused.c.kscore)
        .join(fused, MemoryRow.id == fused.c.id)
        .outerjoin(MemoryRow.access)
        .options(contains_eager(MemoryRow.access))
        .order_by(score.desc(), MemoryRow.id)
        .limit(plan.limit)
    )
    if plan.min_score is not None:
        stmt = stmt.where(score >= plan.min_score)
    if plan.vector is not None:
        # ef_search bounds how many rows one HNSW scan returns, so it must cover the candidate depth;
        # iterative scans keep filtered searches (by tier, agent…) from coming back short.
        await session.execute(
            select(
                func.set_config("hnsw.ef_search", str(max(plan.ef_search, plan.candidates)), True),
                func.set_config("hnsw.iterative_scan", "relaxed_order", True),
            )
        )
    rows = await session.execute(stmt)
    return [
        ScoredMemory(row=row, score=float(s), vector_score=_opt(v), keyword_score=_opt(k))
        for row, s, v, k in rows.unique()
    ]


def _opt(value: float | None) -> float | None:
    return None if value is None else float(value)


def ids_of(hits: list[ScoredMemory]) -> list[uuid.UUID]:
    return [hit.row.id for hit in hits]
