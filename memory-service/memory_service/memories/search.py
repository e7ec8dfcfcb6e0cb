"""Hybrid retrieval: vector and full-text candidates fused and ranked in one SQL statement.

    dense   top-k by cosine over the HNSW index of the query vector's (model, dimension)
    sparse  top-k by BM25 over the posting lists in `memory_terms` (or ts_rank, ts_rank_cd over the GIN
            index), the query's terms ORed by default
    fused   FULL OUTER JOIN of the two lists, scored by the chosen fusion method,
            then multiplied by the memory's (decayed) confidence

Every fused score lies in [0, 1] so `min_score` means the same thing for every method. The defaults of
the knobs in `SearchTuning` were chosen on SciFact by bench/retrieval_eval.py.
"""

import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    Float,
    Select,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSQUERY
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from memory_service.db.engine import SESSION_EF_SEARCH, driver_connection
from memory_service.db.models import (
    TEXT_SEARCH_CONFIG,
    KeywordCorpusRow,
    KeywordLexemeRow,
    MemoryAccessRow,
    MemoryRow,
    MemoryTermRow,
)
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.memories.decay import effective_confidence_sql
from nova_contracts.memory import FusionMethod


def visible_to(owner: str | ColumnElement[str]) -> ColumnElement[bool]:
    """The memories one owner may read: its own and the ones the admin shared."""
    return or_(MemoryRow.owner == owner, MemoryRow.shared)


@dataclass(frozen=True)
class SearchFilters:
    tiers: list[str] | None = None
    agent_id: str | None = None
    # Context assembly reads an agent's own memories plus the shared ones (no agent).
    include_shared: bool = False
    project_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # None: every owner's memories (the admin's view); a value: that owner's plus the shared ones.
    owner: str | None = None

    def shape(self) -> tuple[bool, ...]:
        """Which conditions apply: the compiled statement depends on this, not on the values."""
        return (
            bool(self.tiers),
            self.agent_id is not None,
            self.include_shared,
            self.project_id is not None,
            bool(self.metadata),
            self.owner is not None,
        )

    def parameters(self) -> dict[str, Any]:
        return {
            "filter_tiers": self.tiers,
            "filter_agent_id": self.agent_id,
            "filter_project_id": self.project_id,
            "filter_metadata": json.dumps(self.metadata),
            "filter_owner": self.owner,
        }

    def conditions(self) -> list[ColumnElement[bool]]:
        """The conditions as named parameters, so one compiled statement serves every value."""
        return _filter_conditions(self.shape())


def _filter_conditions(shape: tuple[bool, ...]) -> list[ColumnElement[bool]]:
    tiers, agent_id, include_shared, project_id, metadata, owner = shape
    conditions: list[ColumnElement[bool]] = [
        or_(MemoryRow.expires_at.is_(None), MemoryRow.expires_at > func.now())
    ]
    if tiers:
        conditions.append(MemoryRow.tier == any_(bindparam("filter_tiers", type_=ARRAY(Text))))
    if agent_id:
        own = MemoryRow.agent_id == bindparam("filter_agent_id", type_=Text)
        conditions.append(or_(own, MemoryRow.agent_id.is_(None)) if include_shared else own)
    if project_id:
        conditions.append(MemoryRow.project_id == bindparam("filter_project_id", type_=Text))
    if metadata:
        conditions.append(MemoryRow.metadata_.contains(bindparam("filter_metadata", type_=JSONB)))
    if owner:
        conditions.append(visible_to(bindparam("filter_owner", type_=Text)))
    return conditions


class KeywordQuery(StrEnum):
    """How the query text becomes a tsquery."""

    ANY_TERM = "any"  # the query's lexemes ORed: a document needs one of them
    ALL_TERMS = "all"  # plainto_tsquery: every lexeme
    WEBSEARCH = "websearch"  # websearch_to_tsquery: every lexeme, plus "phrases", `or` and -exclusions


class KeywordRank(StrEnum):
    # Okapi BM25 over the tsvector's lexemes, read from their postings (`memory_terms`): IDF from the
    # `keyword_lexemes` snapshot, tf saturated by k1, document length (distinct lexemes) normalised by b.
    # ts_rank has no IDF, so a common word counts as much as a rare one; on SciFact that costs it about
    # 0.08 nDCG@10 against BM25.
    BM25 = "bm25"
    TS_RANK = "ts_rank"
    TS_RANK_CD = "ts_rank_cd"  # cover density: rewards query terms that occur close together


class ScoreNormalization(StrEnum):
    """How weighted fusion puts cosine and keyword rank on one scale before adding them."""

    MIN_MAX = "min_max"  # (score - min) / (max - min) over the arm's candidates
    Z_SCORE = "z_score"  # (score - mean) / stddev over the arm's candidates, the sum squashed by a logistic
    RANK = "rank"  # 1 - (rank - 1) / candidates: the score's position only, as Borda counts it


@dataclass(frozen=True)
class SearchTuning:
    """Everything about a search that is a setting of the service rather than part of the request."""

    vector_weight: float
    rrf_k: int
    score_normalization: ScoreNormalization
    dense_candidates: int
    keyword_candidates: int
    keyword_query: KeywordQuery
    keyword_rank: KeywordRank
    rank_normalization: int  # ts_rank and ts_rank_cd only
    bm25_k1: float
    bm25_b: float
    ef_search: int
    decay_exponent: float
    # Share of importance (feedback) in the score; 0 leaves ranking as tuned (see Settings.importance_weight).
    importance_weight: float = 0.0


@dataclass(frozen=True)
class SearchPlan:
    query: str
    fusion: FusionMethod
    limit: int
    tuning: SearchTuning
    vector: list[float] | None = None
    target: EmbeddingTarget | None = None
    min_score: float | None = None
    # If set, each hit lists the better-ranked hits whose vectors are at least this similar (cosine).
    duplicate_similarity: float | None = None


@dataclass(frozen=True)
class ScoredMemory:
    row: MemoryRow
    score: float
    vector_score: float | None
    keyword_score: float | None
    duplicates_of: tuple[uuid.UUID, ...] = ()


def _regconfig() -> ColumnElement[Any]:
    return literal_column(f"'{TEXT_SEARCH_CONFIG}'::regconfig")


def _query_text() -> ColumnElement[str]:
    return bindparam("query_text", type_=Text)


def _tsquery(mode: KeywordQuery) -> ColumnElement[Any]:
    config = _regconfig()
    query = _query_text()
    if mode is KeywordQuery.WEBSEARCH:
        return func.websearch_to_tsquery(config, query)
    anded = func.plainto_tsquery(config, query)
    if mode is KeywordQuery.ALL_TERMS:
        return anded
    # plainto_tsquery ANDs the terms, so a natural-language question would match almost nothing;
    # its output is re-read with OR between the same (already normalised, quoted) lexemes.
    return cast(func.replace(cast(anded, Text), " & ", " | "), TSQUERY)


# What the final score needs of a memory besides its arm scores. Each arm reads these with the row it
# already visits, so only the final `limit` rows are looked up again for their whole content.
_RANKING_COLUMNS = ("tier", "confidence", "created_at", "importance")


def _ranking_columns(source: Any) -> list[ColumnElement[Any]]:
    return [
        source.c[name] if source is not MemoryRow else getattr(MemoryRow, name) for name in _RANKING_COLUMNS
    ]


def _candidates(plan: SearchPlan, depth: int) -> int:
    return max(depth, plan.limit)


def _dense(plan: SearchPlan, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    if plan.target is None:
        raise ValueError("a dense search needs the query vector's embedding target")
    dim = plan.target.dim
    # The cast to vector(dim) and the (model, dim) filter are exactly the partial index's expression and
    # predicate: that is what lets the planner use it, and what keeps other models' vectors out.
    distance = cast(MemoryRow.embedding, VECTOR(dim)).op("<=>", return_type=Float)(
        cast(bindparam("query_vector", type_=Text), VECTOR(dim))
    )
    nearest = (
        select(MemoryRow.id, distance.label("distance"), *_ranking_columns(MemoryRow))
        .where(
            MemoryRow.embedding_model == bindparam("query_model", type_=Text),
            MemoryRow.embedding_dim == dim,
            *conditions,
        )
        .order_by(distance)
        .limit(_candidates(plan, plan.tuning.dense_candidates))
        .cte("nearest")
    )
    # Iterative HNSW scans may return rows slightly out of order; the ranks are taken after a re-sort.
    similarity = 1.0 - nearest.c.distance
    return select(
        nearest.c.id,
        similarity.label("vscore"),
        func.row_number().over(order_by=(nearest.c.distance, nearest.c.id)).label("vrank"),
        func.min(similarity).over().label("vmin"),
        func.max(similarity).over().label("vmax"),
        func.count().over().label("vcount"),
        *_ranking_columns(nearest),
    )


def _ts_rank(plan: SearchPlan, tsquery: ColumnElement[Any]) -> ColumnElement[Any]:
    """ts_rank or ts_rank_cd of each memory."""
    rank_function = getattr(func, plan.tuning.keyword_rank.value)
    return cast(rank_function(MemoryRow.search_tsv, tsquery, plan.tuning.rank_normalization), Float)


def _bm25_matches(
    plan: SearchPlan, tsquery: ColumnElement[Any], conditions: list[ColumnElement[bool]]
) -> Select[Any]:
    """The memories matching the query, best BM25 first: idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b *
    length / average length)) summed over the query's lexemes found in the memory.

    tf and length come from the postings in `memory_terms` (an index-only scan of the query's lexemes),
    not from the memories: only the best-ranked ones are then read, in rank order, to apply the tsquery
    and the filters, until enough have passed. Before the postings every matching memory was read and its
    tsvector unnested, which was most of a hybrid search's time at 100k memories (bench/memory_scale.py)."""
    k1, b = plan.tuning.bm25_k1, plan.tuning.bm25_b
    lexeme = (
        func.unnest(func.tsvector_to_array(func.to_tsvector(_regconfig(), _query_text())))
        .table_valued("lexeme")
        .render_derived(name="query_lexeme")
    )
    # Before the first snapshot every lexeme is equally rare and every memory of average length.
    # A scalar subquery is evaluated once per statement, not once per memory.
    documents = func.coalesce(select(KeywordCorpusRow.documents).scalar_subquery(), 0)
    average_length = func.coalesce(select(KeywordCorpusRow.average_length).scalar_subquery(), 0.0)
    df = func.coalesce(KeywordLexemeRow.documents, 0)
    # greatest(): a snapshot older than a deletion may count a lexeme in more memories than now exist.
    idf = func.ln(1.0 + (func.greatest(documents - df, 0) + 0.5) / (df + 0.5))
    terms = (
        select(lexeme.c.lexeme, idf.label("idf"))
        .select_from(lexeme.outerjoin(KeywordLexemeRow, KeywordLexemeRow.lexeme == lexeme.c.lexeme))
        .cte("query_terms")
    )
    tf = cast(MemoryTermRow.tf, Float)
    length = cast(MemoryTermRow.doc_length, Float)
    relative_length = case((average_length > 0, length / average_length), else_=1.0)
    score = func.sum(terms.c.idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * relative_length)))
    ranked = (
        select(MemoryTermRow.memory_id, score.label("rank"))
        .select_from(terms.join(MemoryTermRow, MemoryTermRow.lexeme == terms.c.lexeme))
        .group_by(MemoryTermRow.memory_id)
        .order_by(score.desc(), MemoryTermRow.memory_id)
        .subquery("ranked")
    )
    # LIMIT 1 (the id is unique anyway) keeps the planner from flattening the lookup into a join that it
    # would drive from the GIN index, visiting every matching memory again; looked up in rank order,
    # the reading stops once the outer LIMIT has its candidates.
    memory = (
        select(*_ranking_columns(MemoryRow))
        .where(MemoryRow.id == ranked.c.memory_id, MemoryRow.search_tsv.op("@@")(tsquery), *conditions)
        .limit(1)
        .lateral("memory")
    )
    return (
        select(ranked.c.memory_id.label("id"), ranked.c.rank, *_ranking_columns(memory))
        .select_from(ranked.join(memory, true()))
        .order_by(ranked.c.rank.desc(), ranked.c.memory_id)
    )


def _sparse(plan: SearchPlan, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    tuning = plan.tuning
    tsquery = _tsquery(tuning.keyword_query)
    if tuning.keyword_rank is KeywordRank.BM25:
        matches = _bm25_matches(plan, tsquery, conditions)
    else:
        rank = _ts_rank(plan, tsquery).label("rank")
        matches = (
            select(MemoryRow.id, rank, *_ranking_columns(MemoryRow))
            .where(MemoryRow.search_tsv.op("@@")(tsquery), *conditions)
            .order_by(rank.desc(), MemoryRow.id)
        )
    matches_cte = matches.limit(_candidates(plan, tuning.keyword_candidates)).cte("matches")
    return select(
        matches_cte.c.id,
        matches_cte.c.rank.label("kscore"),
        func.row_number().over(order_by=(matches_cte.c.rank.desc(), matches_cte.c.id)).label("krank"),
        func.min(matches_cte.c.rank).over().label("kmin"),
        func.max(matches_cte.c.rank).over().label("kmax"),
        func.count().over().label("kcount"),
        *_ranking_columns(matches_cte),
    )


def _min_max(score: Any, low: Any, high: Any) -> ColumnElement[Any]:
    """Min-max normalisation over the arm's candidates; absent from the arm counts as its minimum."""
    spread = high - low
    return case((score.is_(None), 0.0), (spread > 0, (score - low) / spread), else_=1.0)


def _z_score(arm: Any, column: str) -> ColumnElement[Any]:
    """Standard score over the arm's candidates; absent from the arm counts as its minimum. When the
    candidates all score the same (one candidate, say) each counts 1 and an absent memory 0.

    The statistics are scalar subqueries (computed once), not window columns: a row missing from the
    arm has NULLs in all of that arm's columns after the outer join."""
    score = arm.c[column]
    low, mean, std = (select(f(score)).scalar_subquery() for f in (func.min, func.avg, func.stddev_pop))
    return case(
        (std > 0, (func.coalesce(score, low) - mean) / std),
        (score.is_(None), 0.0),
        else_=1.0,
    )


def _rank_share(rank: Any, count: Any) -> ColumnElement[Any]:
    """1 for the arm's first candidate down to 1/count for its last; 0 when absent."""
    return func.coalesce(1.0 - (rank - 1.0) / count, 0.0)


def _weighted(plan: SearchPlan, dense: Any, sparse: Any) -> ColumnElement[Any]:
    w = plan.tuning.vector_weight
    normalization = plan.tuning.score_normalization
    if normalization is ScoreNormalization.Z_SCORE:
        z = w * _z_score(dense, "vscore") + (1.0 - w) * _z_score(sparse, "kscore")
        # The logistic keeps the order of the z-sum and maps it into (0, 1) like the other methods.
        return 1.0 / (1.0 + func.exp(-z))
    if normalization is ScoreNormalization.RANK:
        vnorm = _rank_share(dense.c.vrank, dense.c.vcount)
        knorm = _rank_share(sparse.c.krank, sparse.c.kcount)
    else:
        vnorm = _min_max(dense.c.vscore, dense.c.vmin, dense.c.vmax)
        knorm = _min_max(sparse.c.kscore, sparse.c.kmin, sparse.c.kmax)
    return w * vnorm + (1.0 - w) * knorm


def _fused(plan: SearchPlan, conditions: list[ColumnElement[bool]]) -> Any:
    w = plan.tuning.vector_weight
    if plan.fusion is FusionMethod.DENSE:
        dense = _dense(plan, conditions).cte("dense")
        return select(
            dense.c.id,
            func.greatest(dense.c.vscore, 0.0).label("fscore"),
            dense.c.vscore,
            literal(None, Float).label("kscore"),
            *_ranking_columns(dense),
        ).cte("fused")
    if plan.fusion is FusionMethod.KEYWORD:
        sparse = _sparse(plan, conditions).cte("sparse")
        normalised = case((sparse.c.kmax > 0, sparse.c.kscore / sparse.c.kmax), else_=0.0)
        return select(
            sparse.c.id,
            normalised.label("fscore"),
            literal(None, Float).label("vscore"),
            sparse.c.kscore,
            *_ranking_columns(sparse),
        ).cte("fused")

    dense = _dense(plan, conditions).cte("dense")
    sparse = _sparse(plan, conditions).cte("sparse")
    if plan.fusion is FusionMethod.RRF:
        k = float(plan.tuning.rrf_k)
        vpart = func.coalesce(1.0 / (k + dense.c.vrank), 0.0)
        kpart = func.coalesce(1.0 / (k + sparse.c.krank), 0.0)
        # Divided by the best possible value (rank 1 in both lists), so scores land in [0, 1].
        fscore = (w * vpart + (1.0 - w) * kpart) / (1.0 / (k + 1.0))
    else:
        fscore = _weighted(plan, dense, sparse)
    return (
        select(
            func.coalesce(dense.c.id, sparse.c.id).label("id"),
            fscore.label("fscore"),
            dense.c.vscore,
            sparse.c.kscore,
            *(func.coalesce(dense.c[name], sparse.c[name]).label(name) for name in _RANKING_COLUMNS),
        )
        .select_from(dense.join(sparse, dense.c.id == sparse.c.id, full=True))
        .cte("fused")
    )


@dataclass(frozen=True)
class _StatementShape:
    """Everything the SQL text depends on; the request's values (query, vector, filters) are parameters."""

    fusion: FusionMethod
    limit: int
    tuning: SearchTuning
    dim: int | None
    min_score: bool
    filters: tuple[bool, ...]
    duplicate_similarity: float | None


@dataclass(frozen=True)
class _CompiledSearch:
    sql: str
    # The statement's positional parameters in order: a request value's name, or a constant's value.
    parameters: tuple[tuple[str, Any], ...]


_MEMORY_COLUMNS = tuple(
    (prop.key, prop.columns[0])
    for prop in inspect(MemoryRow).column_attrs
    if not prop.deferred  # the vector and the tsvector: large, and read only in SQL
)
_NEW_MEMORY = inspect(MemoryRow).class_manager.new_instance
_NEW_ACCESS = inspect(MemoryAccessRow).class_manager.new_instance


def _statement(shape: _StatementShape) -> Select[Any]:
    plan = SearchPlan(
        query="",
        fusion=shape.fusion,
        limit=shape.limit,
        tuning=shape.tuning,
        target=EmbeddingTarget("", shape.dim) if shape.dim is not None else None,
    )
    fused = _fused(plan, _filter_conditions(shape.filters))
    ranked = fused.c.fscore * effective_confidence_sql(
        plan.tuning.decay_exponent,
        tier=fused.c.tier,
        confidence=fused.c.confidence,
        created_at=fused.c.created_at,
        last_accessed_at=MemoryAccessRow.last_accessed_at,
    )
    w = plan.tuning.importance_weight
    if w > 0:
        # Neutral at importance 0.5; at most doubles (or zeroes, at w = 1) a memory's score.
        ranked = ranked * ((1.0 - w) + 2.0 * w * fused.c.importance)
    # least(): float4 ts_rank divided in float8 can overshoot 1 by a rounding error.
    score = func.least(ranked, 1.0)
    best = (
        select(
            fused.c.id,
            score.label("score"),
            fused.c.vscore,
            fused.c.kscore,
            MemoryAccessRow.access_count,
            MemoryAccessRow.last_accessed_at,
        )
        .select_from(fused.outerjoin(MemoryAccessRow, MemoryAccessRow.memory_id == fused.c.id))
        .order_by(score.desc(), fused.c.id)
        .limit(plan.limit)
    )
    if shape.min_score:
        best = best.where(score >= bindparam("min_score", type_=Float))
    scored = best.cte("scored")
    columns = [column.label(key) for key, column in _MEMORY_COLUMNS]
    stmt = (
        select(
            *columns,
            scored.c.access_count.label("access__count"),
            scored.c.last_accessed_at.label("access__last_accessed_at"),
            scored.c.score,
            scored.c.vscore,
            scored.c.kscore,
        )
        .select_from(scored.join(MemoryRow, MemoryRow.id == scored.c.id))
        .order_by(scored.c.score.desc(), scored.c.id)
    )
    if shape.duplicate_similarity is None:
        return stmt
    # Near-duplicate removal needs the hits' vectors; comparing them here saves a second query that would
    # fetch 40 vectors of 1.5 kB: each hit lists the better-ranked hits its vector nearly repeats.
    # A memory's vector is stored out of line (TOAST), and a CTE's rows keep pointers to such values: read
    # as they are, each of the ~800 comparisons fetched both vectors again, which took more than half of a
    # context assembly's statement. subvector() over the whole vector is the vector itself, read once here.
    whole_embedding = func.subvector(
        MemoryRow.embedding, literal_column("1"), func.vector_dims(MemoryRow.embedding), type_=VECTOR
    )
    top = stmt.add_columns(
        whole_embedding.label("embedding"),
        func.row_number().over(order_by=(scored.c.score.desc(), scored.c.id)).label("position"),
    ).cte("top")
    better = top.alias("better")
    # Only vectors of one model and dimension compare; the CASE keeps <=> from ever seeing two dimensions.
    similarity = case(
        (
            (better.c.embedding_model == top.c.embedding_model)
            & (better.c.embedding_dim == top.c.embedding_dim),
            1.0 - better.c.embedding.op("<=>", return_type=Float)(top.c.embedding),
        ),
    )
    duplicates_of = (
        select(func.array_agg(better.c.id))
        .where(better.c.position < top.c.position, similarity >= shape.duplicate_similarity)
        .scalar_subquery()
    )
    output = [top.c[name] for name in stmt.selected_columns.keys()]
    return select(*output, duplicates_of.label("duplicates_of")).order_by(top.c.position)


@lru_cache(maxsize=256)
def _compiled(shape: _StatementShape) -> _CompiledSearch:
    """Built and compiled once per shape: building the expression tree cost more than running it."""
    compiled = _statement(shape).compile(
        dialect=postgresql_asyncpg.dialect(), compile_kwargs={"render_postcompile": True}
    )
    request_values = {"query_text", "query_vector", "query_model", "min_score", *SearchFilters().parameters()}
    order = compiled.positiontup or []
    parameters = tuple(
        (name, None) if name in request_values else ("", compiled.binds[name].effective_value)
        for name in order
    )
    return _CompiledSearch(sql=compiled.string, parameters=parameters)


def _memory_row(record: Any) -> MemoryRow:
    """A detached MemoryRow filled the way the ORM's loader fills one, without the ORM's per-row cost."""
    row = _NEW_MEMORY()
    values = row.__dict__
    for key, _ in _MEMORY_COLUMNS:
        values[key] = record[key]
    values["id"] = _uuid(values["id"])
    if values["source_id"] is not None:
        values["source_id"] = _uuid(values["source_id"])
    access = None
    if record["access__count"] is not None:
        access = _NEW_ACCESS()
        access.__dict__.update(
            memory_id=values["id"],
            access_count=record["access__count"],
            last_accessed_at=record["access__last_accessed_at"],
        )
    values["access"] = access
    return row


def _uuid(value: uuid.UUID) -> uuid.UUID:
    # asyncpg's own UUID type is a subclass; responses and dict keys want the standard one.
    return uuid.UUID(bytes=value.bytes)


async def hybrid_search(
    session: AsyncSession, plan: SearchPlan, filters: SearchFilters
) -> list[ScoredMemory]:
    """The best `plan.limit` memories, best first. Needs `plan.vector` unless the fusion is keyword-only.

    The hot read of every chat turn: the statement is compiled once per shape and runs on the session's
    asyncpg connection directly. Building it per request and loading ORM rows cost more than PostgreSQL
    took to run it (bench/memory_scale.py, in-process, 100k memories: hybrid p50 16 -> 11 ms, same hits)."""
    if plan.fusion is not FusionMethod.KEYWORD and (plan.vector is None or plan.target is None):
        raise ValueError("a dense search needs the query vector and its embedding target")
    shape = _StatementShape(
        fusion=plan.fusion,
        limit=plan.limit,
        tuning=plan.tuning,
        dim=plan.target.dim if plan.target is not None else None,
        min_score=plan.min_score is not None,
        filters=filters.shape(),
        duplicate_similarity=plan.duplicate_similarity,
    )
    compiled = _compiled(shape)
    values = {
        "query_text": plan.query,
        "query_vector": _vector_text(plan.vector) if plan.vector is not None else None,
        "query_model": plan.target.model if plan.target is not None else None,
        "min_score": plan.min_score,
        **filters.parameters(),
    }
    arguments = [values[name] if name else constant for name, constant in compiled.parameters]
    connection = await driver_connection(session)
    settings = ""
    if plan.vector is not None:
        # ef_search bounds how many rows one HNSW scan returns, so it must cover the candidate depth;
        # iterative scans keep filtered searches (by tier, agent…) from coming back short. Every connection
        # starts with the default tuning's values (db/engine.py): only other values are set here.
        ef_search = max(plan.tuning.ef_search, _candidates(plan, plan.tuning.dense_candidates))
        if ef_search != SESSION_EF_SEARCH:
            settings = f"SET LOCAL hnsw.ef_search = {int(ef_search)}"
    if not settings:
        # One statement is atomic on its own: no transaction to open for it.
        records = await connection.fetch(compiled.sql, *arguments)
    elif connection.is_in_transaction():
        await connection.execute(settings)
        records = await connection.fetch(compiled.sql, *arguments)
    else:
        # SET LOCAL needs a transaction; a read-only one of our own, so the session's is not opened for it.
        # Begun in the same round trip as the settings: on a busy host each round trip costs.
        await connection.execute(f"BEGIN READ ONLY; {settings}")
        try:
            records = await connection.fetch(compiled.sql, *arguments)
        finally:
            await connection.execute("ROLLBACK")
    return [
        ScoredMemory(
            row=_memory_row(record),
            score=float(record["score"]),
            vector_score=_opt(record["vscore"]),
            keyword_score=_opt(record["kscore"]),
            duplicates_of=tuple(_uuid(i) for i in record["duplicates_of"] or ())
            if plan.duplicate_similarity is not None
            else (),
        )
        for record in records
    ]


def _vector_text(vector: list[float]) -> str:
    return "[" + ",".join(map(str, vector)) + "]"


def _opt(value: float | None) -> float | None:
    return None if value is None else float(value)


def ids_of(hits: list[ScoredMemory]) -> list[uuid.UUID]:
    return [hit.row.id for hit in hits]
