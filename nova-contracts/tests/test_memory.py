import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from nova_contracts.memory import (
    ContextItem,
    ContextRequest,
    ContextResponse,
    FactRevision,
    FactUpsert,
    FactUpsertResult,
    FusionMethod,
    Memory,
    MemoryBulkCreate,
    MemoryCreate,
    MemoryHistory,
    MemoryMerge,
    MemoryPage,
    MemorySearchHit,
    MemorySearchRequest,
    MemorySearchResponse,
    MemoryTier,
    MemoryUpdate,
    ReembedStatus,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
LATER = "2030-01-01T00:00:00Z"
MEMORY = Memory(
    id=uuid4(),
    tier=MemoryTier.SEMANTIC,
    content="The deploy target is eu-west-1.",
    agent_id="7c9e6679-7425-40de-944b-e07fc1f90ae7",
    project_id="nova",
    category="infra",
    key="deploy_region",
    confidence=0.9,
    effective_confidence=0.6,
    access_count=3,
    last_accessed_at=NOW,
    metadata={"source": "chat", "turn": 4},
    embedding_model="text-embedding-3-small",
    embedding_dim=1536,
    embedded=True,
    created_at=NOW,
    updated_at=NOW,
)


@pytest.mark.parametrize(
    "instance",
    [
        MemoryCreate(content="Met Ana about the launch", metadata={"people": ["Ana"]}),
        MemoryCreate(content="scratch", tier=MemoryTier.WORKING, expires_at=NOW + timedelta(hours=1)),
        MemoryBulkCreate(
            items=[MemoryCreate(content="a"), MemoryCreate(content="b", tier=MemoryTier.PROCEDURAL)]
        ),
        MemoryUpdate(content="new text", category=None),
        MEMORY,
        FactUpsert(
            project_id="nova", category="infra", key="region", content="eu-west-1", confidence_delta=0.1
        ),
        FactUpsertResult(memory=MEMORY, created=False, previous_content="us-east-1", history_length=2),
        MemorySearchRequest(
            query="deploy region",
            tiers=[MemoryTier.SEMANTIC, MemoryTier.EPISODIC],
            project_id="nova",
            metadata={"source": "chat", "turn": 4, "pinned": True},
            limit=50,
            fusion=FusionMethod.RRF,
            min_score=0.2,
        ),
        MemorySearchResponse(
            hits=[MemorySearchHit(memory=MEMORY, score=0.8, vector_score=0.9, keyword_score=0.5, rank=1)],
            fusion=FusionMethod.WEIGHTED,
            embedding_model="text-embedding-3-small",
            took_ms=12.5,
        ),
        MemorySearchResponse(fusion=FusionMethod.KEYWORD, keyword_only_fallback=True, took_ms=3),
        MemoryPage(items=[MEMORY], total=41, offset=40, limit=20),
        ContextRequest(
            query="what region?", token_budget=4000, tiers=[MemoryTier.SEMANTIC], include_facts=False
        ),
        ContextResponse(
            context="- The deploy target is eu-west-1.",
            total_tokens=9,
            items=[
                ContextItem(id=MEMORY.id, tier=MEMORY.tier, content=MEMORY.content, confidence=0.9, tokens=9)
            ],
            truncated=True,
            memory_ids=[MEMORY.id],
        ),
        MemorySearchRequest(query="q", fusion=FusionMethod.WEIGHTED, vector_weight=0.7),
        MemoryHistory(
            memory_id=MEMORY.id,
            revisions=[FactRevision(content="us-east-1", confidence=0.9, replaced_at=NOW)],
            merges=[
                MemoryMerge(
                    merged_id=uuid4(),
                    content="dup",
                    metadata={"a": 1},
                    confidence=0.5,
                    similarity=0.97,
                    merged_at=NOW,
                )
            ],
        ),
        ReembedStatus(),
        ReembedStatus(
            job_id=uuid4(), state="failed", total=10, done=4, target_model="m", target_dim=768, error="x"
        ),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_memory_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


FACT = {"project_id": "nova", "category": "infra", "key": "region", "content": "eu-west-1"}


@pytest.mark.parametrize(
    ("model", "payload", "loc"),
    [
        pytest.param(MemoryCreate, {"content": "x", "importance": 1}, ("importance",), id="unknown-field"),
        pytest.param(MemoryCreate, {"content": ""}, ("content",), id="empty-content"),
        pytest.param(MemoryCreate, {"content": "x" * 50_001}, ("content",), id="content-too-long"),
        pytest.param(MemoryCreate, {"content": "x", "tier": "long_term"}, ("tier",), id="wrong-tier"),
        pytest.param(
            MemoryCreate, {"content": "x", "confidence": 1.5}, ("confidence",), id="confidence-high"
        ),
        pytest.param(
            MemoryCreate, {"content": "x", "category": "c" * 201}, ("category",), id="category-long"
        ),
        pytest.param(
            MemoryCreate,
            {"content": "x", "tier": "semantic", "expires_at": LATER},
            ("expires_at",),
            id="expiry-on-semantic",
        ),
        pytest.param(
            MemoryCreate,
            {"content": "x", "tier": "working", "expires_at": "2030-01-01T00:00:00"},
            ("expires_at",),
            id="naive-expiry",
        ),
        pytest.param(MemoryBulkCreate, {"items": []}, ("items",), id="bulk-empty"),
        pytest.param(MemoryBulkCreate, {"items": [{"content": "x"}] * 1001}, ("items",), id="bulk-too-many"),
        pytest.param(
            MemoryBulkCreate, {"items": [{"content": ""}]}, ("items", 0, "content"), id="bulk-bad-item"
        ),
        pytest.param(MemoryUpdate, {"content": None}, ("content",), id="update-null-content"),
        pytest.param(MemoryUpdate, {"confidence": -0.1}, ("confidence",), id="update-confidence"),
        pytest.param(
            MemoryUpdate, {"tier": "episodic", "expires_at": LATER}, ("expires_at",), id="update-expiry"
        ),
        pytest.param(FactUpsert, {**FACT, "key": "k" * 201}, ("key",), id="fact-key-long"),
        pytest.param(FactUpsert, {**FACT, "project_id": ""}, ("project_id",), id="fact-project-empty"),
        pytest.param(FactUpsert, {**FACT, "confidence_delta": 1.5}, ("confidence_delta",), id="fact-delta"),
        pytest.param(FactUpsert, {**FACT, "tier": "semantic"}, ("tier",), id="fact-unknown-field"),
        pytest.param(MemorySearchRequest, {"query": ""}, ("query",), id="search-empty-query"),
        pytest.param(MemorySearchRequest, {"query": "q" * 10_001}, ("query",), id="search-long-query"),
        pytest.param(MemorySearchRequest, {"query": "q", "limit": 0}, ("limit",), id="search-limit-zero"),
        pytest.param(MemorySearchRequest, {"query": "q", "limit": 201}, ("limit",), id="search-limit-high"),
        pytest.param(MemorySearchRequest, {"query": "q", "tiers": []}, ("tiers",), id="search-no-tiers"),
        pytest.param(MemorySearchRequest, {"query": "q", "fusion": "magic"}, ("fusion",), id="search-fusion"),
        pytest.param(
            MemorySearchRequest, {"query": "q", "min_score": 1.5}, ("min_score",), id="search-min-score"
        ),
        pytest.param(
            MemorySearchRequest, {"query": "q", "vector_weight": 1.1}, ("vector_weight",), id="search-weight"
        ),
        pytest.param(
            MemorySearchRequest,
            {"query": "q", "metadata": {f"k{i}": i for i in range(21)}},
            ("metadata",),
            id="filter-too-many-keys",
        ),
        pytest.param(
            MemorySearchRequest,
            {"query": "q", "metadata": {"source": {"$ne": "chat"}}},
            ("metadata", "source"),
            id="filter-not-scalar",
        ),
        pytest.param(ContextRequest, {"query": "q", "token_budget": 63}, ("token_budget",), id="budget-low"),
        pytest.param(
            ContextRequest, {"query": "q", "token_budget": 200_001}, ("token_budget",), id="budget-high"
        ),
        pytest.param(
            ContextRequest, {"query": "q", "agent_id": "a"}, ("agent_id",), id="context-unknown-field"
        ),
        pytest.param(ReembedStatus, {"state": "paused"}, ("state",), id="reembed-state"),
    ],
)
def test_memory_request_rejects_malformed_input_at_the_offending_field(
    first_error_loc: Any, model: type[BaseModel], payload: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert first_error_loc(model, payload)[: len(loc)] == loc


def test_memory_create_defaults_to_a_certain_episodic_memory() -> None:
    memory = MemoryCreate(content="x")

    assert (memory.tier, memory.confidence, memory.expires_at) == (MemoryTier.EPISODIC, 1.0, None)


def test_working_memory_without_expiry_leaves_the_lifetime_to_the_service() -> None:
    assert MemoryCreate(content="x", tier=MemoryTier.WORKING).expires_at is None


def test_memory_update_with_no_fields_is_rejected() -> None:
    with pytest.raises(ValidationError, match="at least one field"):
        MemoryUpdate.model_validate_json("{}")


def test_memory_update_null_clears_a_nullable_field() -> None:
    update = MemoryUpdate.model_validate_json('{"expires_at": null, "key": null}')

    assert update.model_fields_set == {"expires_at", "key"}


def test_memory_update_serialises_only_the_fields_sent() -> None:
    update = MemoryUpdate(content="new", project_id=None)

    assert json.loads(update.model_dump_json()) == {"content": "new", "project_id": None}


def test_fact_upsert_accepts_value_as_the_content_name() -> None:
    payload = {"project_id": "nova", "category": "infra", "key": "region", "value": "eu-west-1"}

    fact = FactUpsert.model_validate_json(json.dumps(payload))

    assert fact.content == "eu-west-1"
    assert "value" not in fact.model_dump()
