"""The ORM tables. DDL that the ORM cannot state (extensions, per-model vector indexes) is in `schema.py`.

Vectors live in one `embedding vector` column *without* a fixed dimension, next to the model and
dimension that produced them. pgvector's HNSW index needs a fixed dimension, so each (model, dimension)
gets its own partial expression index, `((embedding::vector(D))) WHERE embedding_model = M AND
embedding_dim = D`, and a search always filters on the same (M, D) its query vector came from. One column
keeps a model change a row-by-row update (no table per dimension to copy between), and the filter that
selects the index is the same one that guarantees a search never compares vectors of different models.
"""

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import VECTOR
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The text-search configuration baked into the generated column; queries must use the same one.
TEXT_SEARCH_CONFIG = "english"
TIERS = ("semantic", "procedural", "episodic", "working")
# Who wrote a memory: the admin, one API key ("key:<uuid>"), or an anonymous local caller.
OWNER_PATTERN = "^key:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class Base(DeclarativeBase):
    pass


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class MemoryRow(Base):
    __tablename__ = "memories"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    tier: Mapped[str] = mapped_column(Text, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str] = mapped_column(Text, nullable=False)
    agent_id: Mapped[str | None] = mapped_column(Text)
    project_id: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float, nullable=False, default=1.0, server_default=text("1.0"))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    embedding: Mapped[Any | None] = mapped_column(VECTOR(), nullable=True, deferred=True)
    embedding_model: Mapped[str | None] = mapped_column(Text)
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    embedded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search_tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(f"to_tsvector('{TEXT_SEARCH_CONFIG}', content)", persisted=True), deferred=True
    )
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Added by migration 002: recalled only for `owner`'s requests, unless the admin made it `shared`.
    owner: Mapped[str] = mapped_column(Text, nullable=False, default="admin", server_default=text("'admin'"))
    shared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    # Added by migration 003: where the memory came from, and how much it has helped (0.5 neutral).
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sources.id", ondelete="SET NULL")
    )
    importance: Mapped[float] = mapped_column(Float, nullable=False, default=0.5, server_default=text("0.5"))

    access: Mapped["MemoryAccessRow | None"] = relationship(
        lazy="joined", uselist=False, cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        CheckConstraint(f"tier IN ({', '.join(repr(t) for t in TIERS)})", name="memories_tier_known"),
        CheckConstraint("length(content) > 0", name="memories_content_not_empty"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="memories_confidence_range"),
        CheckConstraint("importance >= 0 AND importance <= 1", name="memories_importance_range"),
        CheckConstraint("expires_at IS NULL OR tier = 'working'", name="memories_only_working_expires"),
        CheckConstraint(
            "(embedding IS NULL) = (embedding_model IS NULL) AND (embedding IS NULL) = (embedding_dim IS NULL)"
            " AND (embedding IS NULL OR vector_dims(embedding) = embedding_dim)",
            name="memories_embedding_described",
        ),
        CheckConstraint(
            f"owner IN ('admin', 'local') OR owner ~ '{OWNER_PATTERN}'", name="memories_owner_known"
        ),
        Index("memories_search_tsv_gin", "search_tsv", postgresql_using="gin"),
        # A fact is a semantic memory with a key, one per owner; NULLS NOT DISTINCT so a missing project
        # is one scope too.
        Index(
            "memories_fact_key_unique",
            "owner",
            "project_id",
            "category",
            "key",
            unique=True,
            postgresql_where=text("tier = 'semantic' AND key IS NOT NULL"),
            postgresql_nulls_not_distinct=True,
        ),
        Index("memories_tier_created", "tier", "created_at"),
        Index("memories_agent_created", "agent_id", "created_at"),
        Index("memories_updated", "updated_at"),
        Index("memories_expiry", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
        Index("memories_unembedded", "created_at", postgresql_where=text("embedding IS NULL")),
        Index("memories_owner_created", "owner", "created_at"),
        Index("memories_shared", "created_at", postgresql_where=text("shared")),
        Index("memories_source", "source_id", postgresql_where=text("source_id IS NOT NULL")),
    )


class MemoryAccessRow(Base):
    """Access statistics, kept apart from `memories`: a read touches only this narrow row, not the wide
    one whose every update would also re-insert its vector into the HNSW graph and its tsvector into GIN."""

    __tablename__ = "memory_access"

    memory_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    access_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_accessed_at: Mapped[datetime] = _now()


class FactRevisionRow(Base):
    __tablename__ = "fact_revisions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    memory_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("memories.id", ondelete="CASCADE"), nullable=False
    )
    content: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    replaced_at: Mapped[datetime] = _now()

    __table_args__ = (Index("fact_revisions_memory", "memory_id", "replaced_at"),)


class MemoryMergeRow(Base):
    """A memory that compaction folded into `kept_id`, kept verbatim so the merge can be audited."""

    __tablename__ = "memory_merges"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kept_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("memories.id", ondelete="CASCADE"), nullable=False
    )
    merged_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False, default=dict)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    similarity: Mapped[float] = mapped_column(Float, nullable=False)
    merged_at: Mapped[datetime] = _now()

    __table_args__ = (Index("memory_merges_kept", "kept_id"),)


class EmbeddingCacheRow(Base):
    """L2 of the embedding cache: one vector per (content hash, model, dimension)."""

    __tablename__ = "embedding_cache"

    content_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    dim: Mapped[int] = mapped_column(Integer, primary_key=True)
    embedding: Mapped[Any] = mapped_column(VECTOR(), nullable=False)
    created_at: Mapped[datetime] = _now()


class EmbeddingTargetRow(Base):
    """The (model, dimension) new vectors are made with: the last one the gateway answered with."""

    __tablename__ = "embedding_target"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    changed_at: Mapped[datetime] = _now()

    __table_args__ = (CheckConstraint("id = 1", name="embedding_target_singleton"),)


class KeywordLexemeRow(Base):
    """How many memories contain each lexeme: the document frequencies behind BM25's IDF.

    A snapshot that the keyword-statistics loop rebuilds when the memories changed (see
    maintenance/keyword_statistics.py), not a counter kept by every write: IDF only needs to be about
    right, and exact counts would make every store lock the rows of its common words."""

    __tablename__ = "keyword_lexemes"

    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    documents: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (CheckConstraint("documents > 0", name="keyword_lexemes_documents_positive"),)


class MemoryTermRow(Base):
    """BM25's inverted index: one row per (lexeme, memory), kept by triggers on `memories` (migration 004).

    A keyword search reads its lexemes' rows from the covering primary key alone, never the memories
    that merely match, so its cost follows the posting lists' length rather than the matched rows'."""

    __tablename__ = "memory_terms"

    lexeme: Mapped[str] = mapped_column(Text)
    memory_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # Positions of the lexeme in the memory's tsvector, and the tsvector's distinct lexemes.
    tf: Mapped[int] = mapped_column(Integer, nullable=False)
    doc_length: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint(
            "lexeme", "memory_id", name="memory_terms_pkey", postgresql_include=["tf", "doc_length"]
        ),
    )


class KeywordCorpusRow(Base):
    """The size of the snapshot in `keyword_lexemes` and what it was taken of."""

    __tablename__ = "keyword_corpus"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    documents: Mapped[int] = mapped_column(Integer, nullable=False)
    # Mean number of distinct lexemes per memory: BM25's average document length.
    average_length: Mapped[float] = mapped_column(Float, nullable=False)
    # (count, newest updated_at) of `memories` when the snapshot was taken: unchanged means still current.
    memories_count: Mapped[int] = mapped_column(Integer, nullable=False)
    memories_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refreshed_at: Mapped[datetime] = _now()

    __table_args__ = (CheckConstraint("id = 1", name="keyword_corpus_singleton"),)


class ReembedJobRow(Base):
    __tablename__ = "reembed_jobs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    state: Mapped[str] = mapped_column(Text, nullable=False, default="running")
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    target_model: Mapped[str] = mapped_column(Text, nullable=False)
    target_dim: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("state IN ('running', 'done', 'failed')", name="reembed_jobs_state_known"),
        Index("reembed_jobs_started", "started_at"),
    )


_OWNER_CHECK = f"owner IN ('admin', 'local') OR owner ~ '{OWNER_PATTERN}'"
SOURCE_KINDS = ("chat", "task", "feed", "crawl", "document", "api", "correction", "consolidation")


class SourceRow(Base):
    """Where ingested text came from; one row per (owner, text), so a text heard twice is one source."""

    __tablename__ = "sources"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(Text, nullable=False, default="admin", server_default=text("'admin'"))
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    uri: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(Text, nullable=False)
    trust: Mapped[float] = mapped_column(Float, nullable=False)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ingested_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in SOURCE_KINDS)})", name="sources_kind_known"),
        CheckConstraint("trust >= 0 AND trust <= 1", name="sources_trust_range"),
        CheckConstraint(_OWNER_CHECK, name="sources_owner_known"),
        UniqueConstraint("owner", "content_hash", name="sources_owner_content_unique"),
        Index("sources_ingested", "ingested_at"),
    )


class IngestionRow(Base):
    """A formed queue item, written with its memories so a re-delivery after a crash writes nothing twice."""

    __tablename__ = "ingestions"

    item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sources.id", ondelete="SET NULL")
    )
    unextracted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    result: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    formed_at: Mapped[datetime] = _now()

    __table_args__ = (Index("ingestions_formed", "formed_at"),)


CONTRADICTION_STATES = ("superseded", "pending", "resolved", "rejected")


class ContradictionRow(Base):
    __tablename__ = "contradictions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    memory_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("memories.id", ondelete="CASCADE"), nullable=False
    )
    owner: Mapped[str] = mapped_column(Text, nullable=False)
    previous_content: Mapped[str] = mapped_column(Text, nullable=False)
    new_content: Mapped[str] = mapped_column(Text, nullable=False)
    new_confidence: Mapped[float] = mapped_column(Float, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False)
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("sources.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _now()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            f"state IN ({', '.join(repr(s) for s in CONTRADICTION_STATES)})",
            name="contradictions_state_known",
        ),
        Index("contradictions_created", "created_at"),
        Index("contradictions_pending", "created_at", postgresql_where=text("state = 'pending'")),
    )


class RetrievalRow(Base):
    """One context assembly: what it surfaced and, after feedback, what was used and how the turn ended."""

    __tablename__ = "retrievals"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    owner: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, nullable=False)
    surfaced: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), nullable=False)
    used: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(UUID(as_uuid=True)))
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "outcome IS NULL OR outcome IN ('success', 'neutral', 'failure')", name="retrievals_outcome_known"
        ),
        Index("retrievals_created", "created_at"),
    )


class MemoryLinkRow(Base):
    """A summary consolidation wrote and one of the episodes it summarises."""

    __tablename__ = "memory_links"

    summary_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("memory_links_member", "member_id"),)


class ConsolidationRunRow(Base):
    __tablename__ = "consolidation_runs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    summarised_clusters: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    summaries_created: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    decayed: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    contradictions_resolved: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("trigger IN ('manual', 'idle', 'nightly')", name="consolidation_runs_trigger_known"),
        Index("consolidation_runs_started", "started_at"),
    )
