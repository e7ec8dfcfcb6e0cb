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
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
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

    access: Mapped["MemoryAccessRow | None"] = relationship(
        lazy="joined", uselist=False, cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        CheckConstraint(f"tier IN ({', '.join(repr(t) for t in TIERS)})", name="memories_tier_known"),
        CheckConstraint("length(content) > 0", name="memories_content_not_empty"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="memories_confidence_range"),
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
