"""Memory-service contract: memories in four tiers, facts, hybrid search and agent context assembly."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AliasChoices, AwareDatetime, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from nova_contracts.base import (
    Identifier,
    Metadata,
    MetadataKey,
    RequestModel,
    ResponseModel,
    ShortText,
    UpdateRequestModel,
)

# Who wrote a memory: the admin, one API key ("key:<api key uuid>", lower case) or an anonymous local caller.
# The orchestrator derives it from its caller; memory-service trusts it because its routes are service-only.
Owner = Annotated[
    str,
    Field(
        max_length=40,
        pattern=r"^(admin|local|key:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
        examples=["admin", "key:0b7e3f0e-5f0c-4c1e-9a4e-2f1d9c3b8a71", "local"],
    ),
]
MemoryContent = Annotated[str, Field(min_length=1, max_length=50_000)]
Query = Annotated[str, Field(min_length=1, max_length=10_000)]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]
# Equality matches against a memory's metadata, ANDed together.
MetadataFilter = Annotated[
    dict[MetadataKey, Annotated[str, Field(max_length=1000)] | int | float | bool],
    Field(max_length=20),
]


class MemoryTier(StrEnum):
    SEMANTIC = "semantic"
    PROCEDURAL = "procedural"
    EPISODIC = "episodic"
    WORKING = "working"


Tiers = Annotated[list[MemoryTier], Field(min_length=1, max_length=len(MemoryTier))]


def _storable(value: Any, where: str) -> None:
    """Refuse what PostgreSQL cannot store: NUL characters and lone surrogates in text (anywhere, metadata
    keys included), and infinite or NaN numbers, which JSONB has no spelling for."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError(
                "storable", "{where}: text may not contain NUL (\\u0000) characters", {"where": where}
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PydanticCustomError(
                "storable",
                "{where}: text contains a lone UTF-16 surrogate, which is not valid Unicode",
                {"where": where},
            ) from None
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise PydanticCustomError("storable", "{where}: numbers must be finite", {"where": where})
    elif isinstance(value, datetime) and value.tzinfo is not None:
        # 0001-01-01T00:00+01:00 and 9999-12-31T23:59-14:00 are valid ISO dates outside Python's range in UTC.
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise PydanticCustomError(
                "storable", "{where}: date is out of range once converted to UTC", {"where": where}
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key, where)
            _storable(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item, where)


def _check_storable(value: Any, info: ValidationInfo) -> Any:
    _storable(value, info.field_name or "value")
    return value


def _expiry_only_for_working(expires_at: datetime | None, info: ValidationInfo) -> datetime | None:
    # Only working memory is swept by the cleanup loop; an expiry on another tier would silently never apply.
    tier = info.data.get("tier")
    if expires_at is not None and tier is not None and tier is not MemoryTier.WORKING:
        raise ValueError(f"only working memories expire; tier is {tier.value}")
    return expires_at


class MemoryCreate(RequestModel):
    """A memory to store; a working memory sent without `expires_at` gets the service's default lifetime."""

    content: MemoryContent
    tier: MemoryTier = MemoryTier.EPISODIC
    agent_id: Identifier | None = None
    project_id: ShortText | None = None
    category: ShortText | None = None
    key: ShortText | None = None
    confidence: Confidence = 1.0
    metadata: Metadata = Field(default_factory=dict)
    expires_at: AwareDatetime | None = None
    owner: Owner = "admin"
    # Recalled for every owner. Only the admin may set it (memory-service refuses it otherwise).
    shared: bool = False

    _check_expiry = field_validator("expires_at")(_expiry_only_for_working)
    _check_storable = field_validator("*")(_check_storable)


class MemoryBulkCreate(RequestModel):
    items: Annotated[list[MemoryCreate], Field(min_length=1, max_length=1000)]


class MemoryUpdate(UpdateRequestModel):
    """A PATCH of one memory; changing `content` re-embeds it."""

    clearable = frozenset({"agent_id", "project_id", "category", "key", "expires_at"})

    content: MemoryContent | None = None
    tier: MemoryTier | None = None
    agent_id: Identifier | None = None
    project_id: ShortText | None = None
    category: ShortText | None = None
    key: ShortText | None = None
    confidence: Confidence | None = None
    metadata: Metadata | None = None
    expires_at: AwareDatetime | None = None
    # Only the admin may share a memory with every owner (or take the sharing back).
    shared: bool | None = None

    _check_expiry = field_validator("expires_at")(_expiry_only_for_working)
    _check_storable = field_validator("*")(_check_storable)


class Memory(ResponseModel):
    id: UUID
    tier: MemoryTier
    content: str
    agent_id: str | None = None
    project_id: str | None = None
    category: str | None = None
    key: str | None = None
    confidence: Confidence
    # confidence after ACT-R decay for the time since last access; set on reads that compute it.
    effective_confidence: Confidence | None = None
    access_count: int = Field(default=0, ge=0)
    last_accessed_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding_model: str | None = None
    embedding_dim: int | None = Field(default=None, ge=1)
    embedded: bool = False
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    owner: str = "admin"
    shared: bool = False


class FactUpsert(RequestModel):
    """Save the fact `(owner, project_id, category, key)`, replacing its content if it exists.

    `confidence` is used when the fact is new; `confidence_delta`, when sent, nudges an existing
    fact's confidence instead (clamped to 0..1), so repeated confirmations raise it.
    """

    project_id: ShortText
    category: ShortText
    key: ShortText
    # Facts are key/value pairs, so `value` is accepted as the input name of the content.
    content: MemoryContent = Field(validation_alias=AliasChoices("content", "value"))
    confidence: Confidence = 1.0
    confidence_delta: float | None = Field(default=None, ge=-1.0, le=1.0)
    agent_id: Identifier | None = None
    metadata: Metadata = Field(default_factory=dict)
    # Each owner has its own facts: one owner's upsert never replaces another's value.
    owner: Owner = "admin"
    shared: bool = False

    _check_storable = field_validator("*")(_check_storable)


class FactUpsertResult(ResponseModel):
    memory: Memory
    created: bool
    previous_content: str | None = None
    history_length: int = Field(default=0, ge=0)


class FusionMethod(StrEnum):
    """How vector and keyword rankings combine: a weighted score sum, reciprocal rank fusion, or one alone."""

    WEIGHTED = "weighted"
    RRF = "rrf"
    DENSE = "dense"
    KEYWORD = "keyword"


class MemorySearchRequest(RequestModel):
    """Hybrid search; `fusion=None` uses the service default, `metadata` filters by exact matches.

    Every hit's `score` lies in 0..1 whatever the fusion, so `min_score` means the same for each.
    """

    query: Query
    tiers: Tiers | None = None
    agent_id: Identifier | None = None
    project_id: ShortText | None = None
    metadata: MetadataFilter = Field(default_factory=dict)
    limit: int = Field(default=10, ge=1, le=200)
    fusion: FusionMethod | None = None
    # Share of the vector side in weighted and RRF fusion; None uses the service default.
    vector_weight: float | None = Field(default=None, ge=0.0, le=1.0)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    # None searches every owner's memories (the admin's view); a value, that owner's plus the shared ones.
    owner: Owner | None = None

    _check_storable = field_validator("*")(_check_storable)


class MemorySearchHit(ResponseModel):
    memory: Memory
    score: float
    vector_score: float | None = None
    keyword_score: float | None = None
    rank: int = Field(ge=1)


class MemorySearchResponse(ResponseModel):
    hits: list[MemorySearchHit] = Field(default_factory=list)
    fusion: FusionMethod
    # True when the embedding call failed and the results come from full-text search alone.
    keyword_only_fallback: bool = False
    embedding_model: str | None = None
    took_ms: float = Field(ge=0)


class MemorySort(StrEnum):
    """What `GET /browse` orders by."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    LAST_ACCESSED_AT = "last_accessed_at"
    ACCESS_COUNT = "access_count"
    CONFIDENCE = "confidence"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class MemoryPage(ResponseModel):
    items: list[Memory] = Field(default_factory=list)
    total: int = Field(ge=0)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(ge=1)


class FactRevision(ResponseModel):
    """A fact's content and confidence as they were before an upsert replaced them."""

    content: str
    confidence: Confidence
    replaced_at: datetime


class MemoryMerge(ResponseModel):
    """A near-duplicate that compaction folded into this memory."""

    merged_id: UUID
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    confidence: Confidence
    similarity: float
    merged_at: datetime


class MemoryHistory(ResponseModel):
    """What a memory replaced (fact revisions, newest first) and what was merged into it."""

    memory_id: UUID
    revisions: list[FactRevision] = Field(default_factory=list)
    merges: list[MemoryMerge] = Field(default_factory=list)


class ContextRequest(RequestModel):
    """Build an agent's context for `query` within `token_budget` tokens."""

    query: Query
    token_budget: int = Field(default=2000, ge=64, le=200_000)
    tiers: Tiers | None = None
    project_id: ShortText | None = None
    include_facts: bool = True
    # None reads every owner's memories; a value, that owner's plus the shared ones.
    owner: Owner | None = None

    _check_storable = field_validator("*")(_check_storable)


class ContextItem(ResponseModel):
    id: UUID
    tier: MemoryTier
    content: str
    confidence: Confidence | None = None
    tokens: int = Field(ge=0)


class ContextResponse(ResponseModel):
    context: str
    total_tokens: int = Field(ge=0)
    items: list[ContextItem] = Field(default_factory=list)
    truncated: bool = False
    memory_ids: list[UUID] = Field(default_factory=list)


class ReembedStatus(ResponseModel):
    """Progress of re-embedding every memory with a new model; `job_id` is None while idle."""

    job_id: UUID | None = None
    state: Literal["idle", "running", "done", "failed"] = "idle"
    total: int = Field(default=0, ge=0)
    done: int = Field(default=0, ge=0)
    target_model: str | None = None
    target_dim: int | None = Field(default=None, ge=1)
    error: str | None = None
