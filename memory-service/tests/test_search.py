"""POST /api/v1/memories/search: hybrid retrieval, every fusion method, filters, scores."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from memory_service.config import Settings
from memory_service.db.engine import SESSION_EF_SEARCH, create_engine, driver_connection, session_factory
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.memories.search import SearchFilters, SearchPlan, hybrid_search
from nova_contracts.memory import FusionMethod

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
    # Dense retrieval returns every candidate of the tier, related or not: exactly the procedural ones.
    assert set(contents(search(service, "anything at all", tiers=["procedural"]))) == {
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
    every = search(service, "database")["hits"]
    assert len(every) > 2, "too few hits to show a cut"
    assert len(search(service, "database", limit=2)["hits"]) == 2

    # A threshold between the scores this query really gets (fixed thresholds cut all or nothing
    # depending on the normalisation), so the cut can be seen on both sides.
    threshold = every[1]["score"]
    kept = search(service, "database", min_score=threshold)["hits"]
    assert kept, "min_score dropped even the best hit"
    assert all(h["score"] >= threshold for h in kept)
    assert len(kept) == sum(h["score"] >= threshold for h in every) < len(every)


def test_expired_working_memory_is_not_found(service: TestClient) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for content, expires_at in (("temporary zebra note", past), ("current zebra note", future)):
        response = service.post(
            "/api/v1/memories", json={"content": content, "tier": "working", "expires_at": expires_at}
        )
        assert response.status_code == 201, response.text

    # The unexpired twin is found, so an empty result cannot pass for the expiry rule.
    assert contents(search(service, "zebra note")) == ["current zebra note"]


def test_search_never_compares_vectors_of_another_model(
    make_service: Any, gateway_url: str, run_sql: Any
) -> None:
    # The backlog loop is kept idle so the foreign vector stays as it was inserted. Min-max normalisation
    # gives the score bound checked below (z-scores have no such bound).
    with make_service(
        gateway_url, EMBEDDING_BACKLOG_INTERVAL_SECONDS=3600, FUSION_SCORE_NORMALIZATION="min_max"
    ) as client:
        client.post("/api/v1/memories", json={"content": "penguins live in Antarctica"})
        run_sql(
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


def keyword_statistics(client: TestClient) -> dict[str, Any]:
    details = client.get("/health/ready").json()["details"]["maintenance"]["keyword_statistics"]
    result: dict[str, Any] = details["last_result"]
    return result


def test_keyword_statistics_follow_the_stored_memories(
    make_service: Any, gateway_url: str, run_sql: Any, wait_until: Any
) -> None:
    def documents_with(word: str) -> int | None:
        rows = run_sql(
            "SELECT documents FROM keyword_lexemes "
            "WHERE lexeme = (tsvector_to_array(to_tsvector('english', $1)))[1]",
            word,
        )
        return rows[0]["documents"] if rows else None

    with make_service(gateway_url, KEYWORD_STATISTICS_INTERVAL_SECONDS=0.2) as client:
        stored = client.post(
            "/api/v1/memories/bulk",
            json={
                "items": [
                    {"content": "Kubernetes restarts crashed pods"},
                    {"content": "Our Kubernetes cluster has three nodes"},
                    {"content": "Invoices are sent on the first of the month"},
                ]
            },
        ).json()
        wait_until(lambda: keyword_statistics(client).get("documents") == 3)
        assert documents_with("kubernetes") == 2

        client.delete(f"/api/v1/memories/{stored[0]['id']}")
        wait_until(lambda: keyword_statistics(client).get("documents") == 2)
        assert documents_with("kubernetes") == 1
        assert documents_with("restarts") is None


def test_bm25_ranks_a_rare_query_word_above_a_repeated_common_one(
    make_service: Any, gateway_url: str, wait_until: Any
) -> None:
    # ts_rank has no IDF: the memory repeating the word every memory has would win there.
    common = [{"content": f"The server log of day {day} is archived"} for day in range(6)]
    repeated = {"content": "server server server: restart the server"}
    rare = {"content": "The zeppelin hangar is closed on Sundays"}
    with make_service(gateway_url, KEYWORD_RANK="bm25", KEYWORD_STATISTICS_INTERVAL_SECONDS=0.2) as client:
        client.post("/api/v1/memories/bulk", json={"items": [*common, repeated, rare]})
        wait_until(lambda: keyword_statistics(client).get("documents") == 8)

        result = search(client, "zeppelin server", fusion="keyword")

    assert contents(result)[0] == rare["content"]
    assert contents(result)[1] == repeated["content"]


@pytest.mark.parametrize(
    "settings",
    [
        {"KEYWORD_RANK": "bm25"},
        {"KEYWORD_RANK": "ts_rank", "KEYWORD_RANK_NORMALIZATION": 1},
        {"KEYWORD_RANK": "ts_rank_cd", "KEYWORD_RANK_NORMALIZATION": 4},
        {"KEYWORD_QUERY": "all"},
        {"KEYWORD_QUERY": "websearch"},
        {"FUSION_SCORE_NORMALIZATION": "min_max"},
        {"FUSION_SCORE_NORMALIZATION": "z_score"},
        {"FUSION_SCORE_NORMALIZATION": "rank"},
        {"DENSE_CANDIDATES": 10, "KEYWORD_CANDIDATES": 10, "RRF_K": 1},
    ],
    ids=lambda settings: ",".join(f"{k.lower()}={v}" for k, v in settings.items()),
)
def test_every_ranking_setting_ranks_the_relevant_memory_first(
    make_service: Any, gateway_url: str, settings: dict[str, Any]
) -> None:
    with make_service(gateway_url, **settings) as client:
        client.post("/api/v1/memories/bulk", json={"items": CORPUS})
        for fusion in ("weighted", "rrf", "keyword"):
            result = search(client, "how do I renew the TLS certificate", fusion=fusion)

            assert contents(result)[0].startswith("To rotate the TLS certificate"), fusion
            scores = [hit["score"] for hit in result["hits"]]
            assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)


def test_z_score_fusion_lifts_the_only_keyword_match_above_every_vector_only_hit(
    make_service: Any, gateway_url: str
) -> None:
    with make_service(gateway_url, FUSION_SCORE_NORMALIZATION="z_score") as client:
        client.post("/api/v1/memories/bulk", json={"items": CORPUS})
        hits = search(client, "TLS certificate", fusion="weighted", vector_weight=0.5, limit=20)["hits"]

    keyword_matches = [h for h in hits if h["keyword_score"] is not None]
    vector_only = [h for h in hits if h["keyword_score"] is None]
    assert keyword_matches and vector_only
    # One keyword candidate has no spread: it counts 1 on the keyword side, every vector-only hit 0.
    assert max(h["score"] for h in vector_only) < min(h["score"] for h in keyword_matches)


def test_a_search_with_the_default_tuning_is_one_statement_and_others_set_their_own(
    service: TestClient, corpus: dict[str, str], database_url: str
) -> None:
    """Every connection starts with the default tuning's HNSW settings, so the recall of a chat turn sends its
    query alone; a deeper search sets its own `ef_search` for its own transaction, and the connection keeps
    the defaults afterwards."""
    settings = Settings.model_validate({"DATABASE_URL": database_url})

    async def scenario() -> tuple[list[list[str]], list[int], list[str]]:
        engine = create_engine(database_url, pool_size=1)
        sent: list[str] = []
        try:
            async with engine.connect() as conn:
                vector, model, dim = (
                    await conn.execute(
                        text("SELECT embedding::text, embedding_model, embedding_dim FROM memories LIMIT 1")
                    )
                ).one()
            async with session_factory(engine)() as session:
                connection = await driver_connection(session)
                connection.add_query_logger(lambda logged: sent.append(logged.query))
                statements, found = [], []
                for limit in (10, 150):
                    plan = SearchPlan(
                        query="Ana's drink", fusion=FusionMethod.RRF, limit=limit, tuning=settings.search_tuning(),
                        vector=json.loads(vector), target=EmbeddingTarget(model, dim),
                    )  # fmt: skip
                    found.append(len(await hybrid_search(session, plan, SearchFilters(tiers=["episodic"]))))
                    await asyncio.sleep(0.05)  # the logger is called soon after each statement, not during it
                    statements.append([s.split()[0] for s in sent])
                    sent.clear()
                after = [
                    await connection.fetchval("SHOW hnsw.ef_search"),
                    await connection.fetchval("SHOW hnsw.iterative_scan"),
                ]
                return statements, found, after
        finally:
            await engine.dispose()

    statements, found, after = asyncio.run(scenario())
    assert statements[0] == ["WITH"], statements  # the search alone
    assert statements[1] == ["BEGIN", "WITH", "ROLLBACK"], statements
    assert found == [3, 3]  # every episodic memory, either way
    assert after == [str(SESSION_EF_SEARCH), "relaxed_order"]
    assert settings.hnsw_ef_search == SESSION_EF_SEARCH
