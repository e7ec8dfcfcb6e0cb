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
    # How much this memory has helped (0..1, 0.5 neutral): raised and lowered by feedback, decayed when unused.
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    # Where it came from (`GET /sources`); set by ingestion, filled in full on `GET /{memory_id}`.
    source_id: UUID | None = None
    source: "Source | None" = None


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
    # `max_tokens` is the documented name (nova-docs api-reference); both are read, `token_budget` is written.
    token_budget: int = Field(
        default=2000, ge=64, le=200_000, validation_alias=AliasChoices("token_budget", "max_tokens")
    )
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
    # Why it was recalled: its fused search score (0..1), the two arms behind it (meaning, words; None when
    # that arm did not find it), and where it came from.
    score: float | None = None
    vector_score: float | None = None
    keyword_score: float | None = None
    source_id: UUID | None = None


class ContextResponse(ResponseModel):
    context: str
    total_tokens: int = Field(ge=0)
    items: list[ContextItem] = Field(default_factory=list)
    truncated: bool = False
    memory_ids: list[UUID] = Field(default_factory=list)
    # The record of this assembly: send it back with `POST /feedback` to say which memories helped. It is
    # written just after this response is sent; feedback that arrives while it is written waits for it.
    retrieval_id: UUID | None = None
    # Where the assembly's time went, in milliseconds per step (embed, search, dedup, fit): for the
    # caller's latency breakdown (the chat stream's `meta.timings_ms`).
    timings_ms: dict[str, float] = Field(default_factory=dict)


class ReembedStatus(ResponseModel):
    """Progress of re-embedding every memory with a new model; `job_id` is None while idle."""

    job_id: UUID | None = None
    state: Literal["idle", "running", "done", "failed"] = "idle"
    total: int = Field(default=0, ge=0)
    done: int = Field(default=0, ge=0)
    target_model: str | None = None
    target_dim: int | None = Field(default=None, ge=1)
    error: str | None = None


# ---------------------------------------------------------------------------------------------------------
# Memory formation: ingestion queue, sources, feedback, consolidation, profile, stats.


class SourceKind(StrEnum):
    """What an ingested text is; each kind has a default trust (see memory-service formation/sources.py)."""

    CHAT = "chat"
    TASK = "task"
    FEED = "feed"
    CRAWL = "crawl"
    DOCUMENT = "document"
    API = "api"
    CORRECTION = "correction"
    CONSOLIDATION = "consolidation"


Trust = Annotated[float, Field(ge=0.0, le=1.0)]
IngestText = Annotated[str, Field(min_length=1, max_length=50_000)]


class SourceInfo(RequestModel):
    """Where an ingested text came from. `trust=None` takes the kind's default."""

    kind: SourceKind
    uri: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    title: ShortText | None = None
    author: ShortText | None = None
    trust: Trust | None = None
    fetched_at: AwareDatetime | None = None

    _check_storable = field_validator("*")(_check_storable)


class IngestRequest(RequestModel):
    """A text for memory to learn from: a chat turn, a task result, a page. Queued, then formed in the
    background into facts, preferences, entities and a one-line episode."""

    content: IngestText
    source: SourceInfo
    owner: Owner = "admin"
    agent_id: Identifier | None = None
    project_id: ShortText | None = None
    metadata: Metadata = Field(default_factory=dict)
    # False when the producer already stored the text as an episode (the orchestrator's chat turns):
    # formation then writes no episode of its own, neither the one-line summary nor the plain fallback.
    keep_episode: bool = True

    _check_storable = field_validator("*")(_check_storable)


class IngestItem(IngestRequest):
    """An `IngestRequest` as it waits in the Redis queue (`nova:memory:ingest:queue`): with its id and time."""

    id: UUID
    enqueued_at: AwareDatetime


class IngestAccepted(ResponseModel):
    id: UUID
    queue_depth: int = Field(ge=0)


class DeadLetter(ResponseModel):
    """An item that failed `attempts` times; `payload` is the raw queue entry (it may not even parse)."""

    id: str
    attempts: int = Field(ge=0)
    error: str
    failed_at: datetime
    payload: str


class DeadLetterPage(ResponseModel):
    items: list[DeadLetter] = Field(default_factory=list)
    total: int = Field(ge=0)


class Source(ResponseModel):
    id: UUID
    kind: SourceKind
    uri: str | None = None
    title: str | None = None
    author: str | None = None
    content_hash: str
    trust: Trust
    owner: str
    fetched_at: datetime | None = None
    ingested_at: datetime
    memory_count: int = Field(default=0, ge=0)


class SourcePage(ResponseModel):
    items: list[Source] = Field(default_factory=list)
    total: int = Field(ge=0)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(ge=1)


class FeedbackOutcome(StrEnum):
    SUCCESS = "success"
    NEUTRAL = "neutral"
    FAILURE = "failure"


class FeedbackRequest(RequestModel):
    """Which of a context assembly's memories the turn used, and how the turn or task ended."""

    retrieval_id: UUID
    used_memory_ids: Annotated[list[UUID], Field(max_length=200)] = Field(default_factory=list)
    outcome: FeedbackOutcome


class FeedbackResult(ResponseModel):
    retrieval_id: UUID
    # The used memories' importance after the change.
    importance: dict[UUID, float] = Field(default_factory=dict)
    # Ids sent as used that the assembly had not surfaced: ignored.
    ignored: list[UUID] = Field(default_factory=list)


class ConsolidationTrigger(StrEnum):
    MANUAL = "manual"
    IDLE = "idle"
    NIGHTLY = "nightly"


class ConsolidationRun(ResponseModel):
    id: UUID
    trigger: ConsolidationTrigger
    started_at: datetime
    finished_at: datetime | None = None
    merged: int = Field(default=0, ge=0)
    summarised_clusters: int = Field(default=0, ge=0)
    summaries_created: int = Field(default=0, ge=0)
    decayed: int = Field(default=0, ge=0)
    contradictions_resolved: int = Field(default=0, ge=0)
    error: str | None = None


class ConsolidationLog(ResponseModel):
    items: list[ConsolidationRun] = Field(default_factory=list)
    total: int = Field(ge=0)


class Contradiction(ResponseModel):
    """A fact that a new statement contradicted: `state` says whether the new value replaced the old one
    (`superseded`) or waits for review because its source was trusted less (`pending`)."""

    id: UUID
    memory_id: UUID
    owner: str
    category: str | None = None
    key: str | None = None
    previous_content: str
    new_content: str
    state: Literal["superseded", "pending", "resolved", "rejected"]
    source_id: UUID | None = None
    created_at: datetime
    resolved_at: datetime | None = None


class ContradictionPage(ResponseModel):
    items: list[Contradiction] = Field(default_factory=list)
    total: int = Field(ge=0)


class ProfileBelief(ResponseModel):
    """One thing Nova believes about its user: a fact (subject, attribute, value) or a preference."""

    memory_id: UUID
    kind: Literal["fact", "preference"]
    subject: str | None = None
    attribute: str | None = None
    content: str
    confidence: Confidence
    importance: float = Field(ge=0.0, le=1.0)
    source: Source | None = None
    updated_at: datetime


class Profile(ResponseModel):
    owner: str
    facts: list[ProfileBelief] = Field(default_factory=list)
    preferences: list[ProfileBelief] = Field(default_factory=list)


class ProfileCorrection(RequestModel):
    """A belief fixed in plain words ("I live in Lisbon now, not Porto"); formed at once as a trusted source."""

    correction: Annotated[str, Field(min_length=1, max_length=5000)]
    owner: Owner = "admin"

    _check_storable = field_validator("*")(_check_storable)


class FormationResult(ResponseModel):
    """What forming one text did."""

    item_id: UUID
    source_id: UUID
    created: list[UUID] = Field(default_factory=list)
    reinforced: list[UUID] = Field(default_factory=list)
    superseded: list[UUID] = Field(default_factory=list)
    contradictions: list[UUID] = Field(default_factory=list)
    # The model's answer was unusable: the text was kept as a plain episode instead.
    unextracted: bool = False
    # The item had been formed already (a re-delivery after a crash): nothing was written again.
    duplicate_delivery: bool = False


class QueueDepth(ResponseModel):
    queued: int = Field(ge=0)
    processing: int = Field(ge=0)
    dead_letters: int = Field(ge=0)


class MemoryStats(ResponseModel):
    by_tier: dict[str, int] = Field(default_factory=dict)
    by_source_kind: dict[str, int] = Field(default_factory=dict)
    unextracted: int = Field(default=0, ge=0)
    queue: QueueDepth
    last_consolidation: ConsolidationRun | None = None
    retrievals: int = Field(default=0, ge=0)
    retrievals_with_feedback: int = Field(default=0, ge=0)
    # Of the memories surfaced by assemblies that got feedback, the share the turn used; None before any.
    usage_rate: float | None = Field(default=None, ge=0.0, le=1.0)


Memory.model_rebuild()
