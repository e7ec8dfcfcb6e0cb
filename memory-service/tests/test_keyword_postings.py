"""BM25's postings (`memory_terms`): kept right by PostgreSQL through every kind of write, filled for the
memories stored before them, and ranking exactly as BM25 computed from the memories' own tsvectors."""

from typing import Any

import asyncpg
import pytest
from fastapi.testclient import TestClient

from memory_service.db.schema import MIGRATIONS, apply_schema_migrations

INITIAL_SQL = (MIGRATIONS.directory / "001_initial.sql").read_text()
SEARCH = "/api/v1/memories/search"

# What the postings must hold: each memory's lexemes, counted from its tsvector as BM25 counts them.
EXPECTED_POSTINGS = """
    SELECT term.lexeme, m.id, coalesce(array_length(term.positions, 1), 1) AS tf,
           length(m.search_tsv) AS doc_length
    FROM memories m, unnest(m.search_tsv) AS term"""
POSTINGS = "SELECT lexeme, memory_id, tf, doc_length FROM memory_terms"

# BM25 as the search computed it before the postings: from the tsvectors of the matching memories.
BM25_FROM_TSVECTORS = """
    WITH corpus AS (SELECT documents, average_length FROM keyword_corpus),
    query AS (SELECT tsvector_to_array(to_tsvector('english', $1)) AS lexemes)
    SELECT m.id, sum(
        ln(1.0 + (greatest(corpus.documents - coalesce(l.documents, 0), 0) + 0.5)
                 / (coalesce(l.documents, 0) + 0.5))
        * array_length(term.positions, 1) * ($2::float8 + 1.0)
        / (array_length(term.positions, 1)
           + $2::float8 * (1.0 - $3::float8 + $3::float8 * length(m.search_tsv) / corpus.average_length))
    ) AS score
    FROM memories m, query, corpus, unnest(m.search_tsv) AS term
    LEFT JOIN keyword_lexemes l ON l.lexeme = term.lexeme
    WHERE term.lexeme = ANY (query.lexemes)
    GROUP BY m.id"""


def postings_match_the_memories(run_sql: Any) -> bool:
    expected = {tuple(r.values()) for r in run_sql(EXPECTED_POSTINGS)}
    return {tuple(r.values()) for r in run_sql(POSTINGS)} == expected


def keyword_statistics(client: TestClient) -> dict[str, Any]:
    details = client.get("/health/ready").json()["details"]["maintenance"]["keyword_statistics"]
    result: dict[str, Any] = details["last_result"]
    return result


def test_postings_follow_every_insert_update_and_delete_of_memories(
    service: TestClient, run_sql: Any
) -> None:
    stored = service.post(
        "/api/v1/memories/bulk",
        json={
            "items": [
                {"content": "The zeppelin hangar opens at nine, the zeppelin leaves at ten"},
                {"content": "Invoices are sent on the first of the month"},
                {"content": "Backups of the billing database run nightly", "tier": "procedural"},
            ]
        },
    ).json()
    single = service.post("/api/v1/memories", json={"content": "The zeppelin pilot is named Ada"}).json()
    fact = {"project_id": "nova", "category": "deploy", "key": "region", "content": "Deploys go to eu-west-1"}
    assert service.post("/api/v1/memories/facts", json=fact).status_code == 200
    [zeppelin_tf] = run_sql(
        "SELECT tf FROM memory_terms WHERE lexeme = 'zeppelin' AND memory_id = $1::uuid", stored[0]["id"]
    )
    assert zeppelin_tf["tf"] == 2
    assert postings_match_the_memories(run_sql)

    # A fact's new content replaces the old one's postings (the upsert's update path).
    assert (
        service.post(
            "/api/v1/memories/facts", json={**fact, "content": "Deploys go to us-east-2"}
        ).status_code
        == 200
    )
    assert run_sql("SELECT 1 FROM memory_terms WHERE lexeme = 'eu-west-1'") == []
    # New content replaces the memory's postings; an update that leaves the text alone keeps them.
    patched = service.patch(f"/api/v1/memories/{single['id']}", json={"content": "The balloon pilot is Ada"})
    assert patched.status_code == 200
    assert service.patch(f"/api/v1/memories/{stored[1]['id']}", json={"confidence": 0.4}).status_code == 200
    assert postings_match_the_memories(run_sql)
    zeppelin = run_sql("SELECT memory_id FROM memory_terms WHERE lexeme = 'zeppelin'")
    assert [str(r["memory_id"]) for r in zeppelin] == [stored[0]["id"]]

    assert service.delete(f"/api/v1/memories/{stored[0]['id']}").status_code == 204
    assert run_sql("SELECT 1 FROM memory_terms WHERE lexeme = 'zeppelin'") == []
    assert postings_match_the_memories(run_sql)
    run_sql("TRUNCATE memories CASCADE")
    assert run_sql(POSTINGS) == []


async def test_migration_fills_the_postings_of_memories_stored_before_it(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # A database from before versioned migrations (see test_schema_migrations), with memories in it.
        await conn.execute(INITIAL_SQL.replace(" IF NOT EXISTS", ""))
        await conn.execute(
            """
            INSERT INTO memories (id, tier, content, content_hash)
            VALUES ('6f9c1a52-0000-4000-8000-000000000001', 'semantic', 'Tea, green tea, always tea', 'h1'),
                   ('6f9c1a52-0000-4000-8000-000000000002', 'episodic', 'Deployed 1.4 on Monday', 'h2')"""
        )

        await apply_schema_migrations(database_url)

        expected = {tuple(r.values()) for r in await conn.fetch(EXPECTED_POSTINGS)}
        got = {tuple(r.values()) for r in await conn.fetch(POSTINGS)}
    finally:
        await conn.close()
    assert got == expected
    assert ("tea", "6f9c1a52-0000-4000-8000-000000000001", 3) in {(t[0], str(t[1]), t[2]) for t in got}


def test_keyword_scores_equal_bm25_computed_from_the_memories_tsvectors(
    make_service: Any, gateway_url: str, run_sql: Any, wait_until: Any
) -> None:
    texts = [
        "server server server: restart the server",
        "The zeppelin hangar is closed on Sundays",
        "A zeppelin server logs every flight of the zeppelin fleet to the archive server",
        *(f"The server log of day {day} is archived with {day} other logs" for day in range(8)),
    ]
    query = "zeppelin server logs"
    with make_service(
        gateway_url, BM25_K1=1.3, BM25_B=0.6, KEYWORD_STATISTICS_INTERVAL_SECONDS=0.2
    ) as client:
        client.post("/api/v1/memories/bulk", json={"items": [{"content": t} for t in texts]})
        wait_until(lambda: keyword_statistics(client).get("documents") == len(texts))
        response = client.post(SEARCH, json={"query": query, "fusion": "keyword", "limit": 50})
    assert response.status_code == 200, response.text

    expected = {str(r["id"]): r["score"] for r in run_sql(BM25_FROM_TSVECTORS, query, 1.3, 0.6)}
    hits = response.json()["hits"]
    assert {hit["memory"]["id"]: pytest.approx(hit["keyword_score"], rel=1e-12) for hit in hits} == expected
    ranked = [hit["memory"]["id"] for hit in hits]
    assert ranked == sorted(expected, key=lambda memory_id: (-expected[memory_id], memory_id))


def test_keyword_candidates_are_taken_after_the_filters(make_service: Any, gateway_url: str) -> None:
    # Eleven of agent-a's memories outrank agent-b's on BM25; agent-b's search must still find its own.
    theirs = [{"content": f"zeppelin zeppelin note {i}", "agent_id": "agent-a"} for i in range(11)]
    mine = {
        "content": "A long note that mentions the zeppelin only once, among many other words",
        "agent_id": "agent-b",
    }
    with make_service(gateway_url, KEYWORD_CANDIDATES=10) as client:
        client.post("/api/v1/memories/bulk", json={"items": [*theirs, mine]})
        response = client.post(SEARCH, json={"query": "zeppelin", "fusion": "keyword", "agent_id": "agent-b"})

    assert [hit["memory"]["content"] for hit in response.json()["hits"]] == [mine["content"]]
