"""POST /api/v1/memories/search: hybrid retrieval, every fusion method, filters, scores."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

SEARCH = "/api/v1/memories/search"

CORPUS = [
    {"content": "Our production database runs PostgreSQL 16 on a dedicated host", "tier": "semantic"},
    {"content": "Ana's favourite drink is green tea", "tier": "episodic", "agent_id": "agent-a"},
    {"content": "To rotate the TLS certificate, run certbot renew and reload nginx", "tier": "procedural"},
    {"content": "The quarterly planning meeting moved to Friday", "tier": "episodic", "agent_id": "agent-b"},
    {
        "content": "Error code XJ-4471 means the upstream queue is full",
        "tier": "semantic",
        "project_id": "nova",
    },
    {
        "content": "The team lunch is usually at the Italian place",
        "tier": "episodic",
        "metadata": {"source": "chat"},
    },
]


@pytest.fixture
def corpus(service: TestClient) -> dict[str, str]:
    """content -> id"""
    response = service.post("/api/v1/memories/bulk", json={"items": CORPUS})
    assert response.status_code == 201
    return {m["content"]: m["id"] for m in response.json()}


def search(client: TestClient, query: str, **fields: Any) -> dict[str, Any]:
    response = client.post(SEARCH, json={"query": query, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def contents(result: dict[str, Any]) -> list[str]:
    return [hit["memory"]["content"] for hit in result["hits"]]


def test_search_finds_a_memory_by_meaning_without_shared_words(
    service: TestClient, corpus: dict[str, str]
) -> None:
    result = search(service, "what beverage does Ana like?")

    assert contents(result)[0] == "Ana's favourite drink is green tea"
    assert result["keyword_only_fallback"] is False
    assert result["embedding_model"] == "all-MiniLM-L6-v2"


def test_search_finds_an_exact_identifier_by_keyword(service: TestClient, corpus: dict[str, str]) -> None:
    result = search(service, "XJ-4471")

    assert contents(result)[0] == "Error code XJ-4471 means the upstream queue is full"
    assert result["hits"][0]["keyword_score"] is not None


@pytest.mark.parametrize("fusion", ["weighted", "rrf", "dense", "keyword"])
def test_every_fusion_method_ranks_the_relevant_memory_first(
    service: TestClient, corpus: dict[str, str], fusion: str
) -> None:
    result = search(service, "how do I renew the TLS certificate", fusion=fusion)

    assert result["fusion"] == fusion
    assert contents(result)[0].startswith("To rotate the TLS certificate")
    assert [hit["rank"] for hit in result["hits"]] == list(range(1, len(result["hits"]) + 1))
    assert all(0.0 <= hit["score"] <= 1.0 for hit in result["hits"])
    scores = [hit["score"] for hit in result["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_hits_report_the_scores_of_both_sides(service: TestClient, corpus: dict[str, str]) -> None:
    top = search(service, "PostgreSQL database host", fusion="weighted")["hits"][0]

    assert top["vector_score"] is not None and top["keyword_score"] is not None


def test_filters_by_tier_agent_project_and_metadata(service: TestClient, corpus: dict[str, str]) -> None:
    assert set(contents(search(service, "anything at all", tiers=["procedural"]))) <= {
        c["content"] for c in CORPUS if c["tier"] == "procedural"
    }
    assert contents(search(service, "drink meeting lunch", agent_id="agent-b")) == [
        "The quarterly planning meeting moved to Friday"
    ]
    assert contents(search(service, "error queue", project_id="nova")) == [
        "Error code XJ-4471 means the upstream queue is full"
    ]
    assert contents(search(service, "where do we eat", metadata={"source": "chat"})) == [
        "The team lunch is usually at the Italian place"
    ]


def test_limit_and_min_score_cut_the_results(service: TestClient, corpus: dict[str, str]) -> None:
    assert len(search(service, "database", limit=2)["hits"]) == 2
    assert all(h["score"] >= 0.9 for h in search(service, "database", min_score=0.9)["hits"])


def test_expired_working_memory_is_not_found(service: TestClient) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    service.post(
        "/api/v1/memories", json={"content": "temporary zebra note", "tier": "working", "expires_at": past}
    )

    assert search(service, "zebra note")["hits"] == []


def test_search_never_compares_vectors_of_another_model(
    make_service: Any, gateway_url: str, sql: Any
) -> None:
    # The backlog loop is kept idle so the foreign vector stays as it was inserted.
    with make_service(gateway_url, EMBEDDING_BACKLOG_INTERVAL_SECONDS=3600) as client:
        client.post("/api/v1/memories", json={"content": "penguins live in Antarctica"})
        sql(
            "INSERT INTO memories (id, tier, content, content_hash, embedding, embedding_model, embedding_dim, "
            "embedded_at) VALUES (gen_random_uuid(), 'episodic', 'penguins of another model', 'h', "
            "'[1,0,0,0,0,0,0,0]', 'legacy-model', 8, now())"
        )

        result = search(client, "penguins", fusion="weighted", vector_weight=0.7)

    by_content = {hit["memory"]["content"]: hit for hit in result["hits"]}
    foreign = by_content["penguins of another model"]
    assert foreign["vector_score"] is None and foreign["keyword_score"] is not None
    # Absent from the vector side counts as its minimum: at most the keyword share of the score.
    assert foreign["score"] <= 0.3 + 1e-9
    assert by_content["penguins live in Antarctica"]["vector_score"] is not None
