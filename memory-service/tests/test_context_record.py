"""What a context assembly leaves behind: the retrieval that `POST /feedback` refers to and the access counts
of what it surfaced, written in one statement of relaxed durability just after the context is sent; and the
pooled connections it runs on, checked without a round trip."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from memory_service.config import Settings
from memory_service.db.engine import create_engine, session_factory
from memory_service.db.schema import apply_schema_migrations
from memory_service.formation import repository
from memory_service.formation.learning import LearningService, Retrieval
from nova_common.testing import STACK_SERVICE_TOKEN, eventually

ServiceFactory = Callable[..., Any]
SqlRunner = Callable[..., list[Any]]
BASE = "/api/v1/memories"
BACKEND_PID = text("SELECT pg_backend_pid()")


def access_counts(run_sql: SqlRunner, ids: list[str]) -> dict[str, int]:
    rows = run_sql(
        "SELECT memory_id::text AS id, access_count FROM memory_access WHERE memory_id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
    )
    return {row["id"]: row["access_count"] for row in rows}


def test_each_context_assembly_counts_what_it_surfaced_once_and_records_a_retrieval_feedback_finds(
    make_service: ServiceFactory, gateway_url: str, run_sql: SqlRunner
) -> None:
    with make_service(gateway_url, INGEST_ENABLED=False) as client:
        items = [
            {"content": "The staging cluster runs the nightly build at two."},
            {"content": "Nightly build failures page the on-call engineer by SMS."},
        ]
        stored = client.post(f"{BASE}/bulk", json={"items": items}).json()
        ids = [m["id"] for m in stored]

        bodies = [
            client.post(f"{BASE}/agent-1/context", json={"query": "nightly build"}).json() for _ in range(3)
        ]

        assert all(set(map(str, body["memory_ids"])) == set(ids) for body in bodies)
        assert access_counts(run_sql, ids) == {i: 3 for i in ids}
        [row] = run_sql(
            "SELECT agent_id, query, surfaced FROM retrievals WHERE id = $1",
            uuid.UUID(bodies[-1]["retrieval_id"]),
        )
        assert row["agent_id"] == "agent-1" and row["query"] == "nightly build"
        assert [str(i) for i in row["surfaced"]] == [str(i) for i in bodies[-1]["memory_ids"]]
        feedback = {
            "retrieval_id": bodies[-1]["retrieval_id"],
            "used_memory_ids": [ids[0]],
            "outcome": "success",
        }
        response = client.post(f"{BASE}/feedback", json=feedback)
        assert response.status_code == 200, response.text
        assert ids[0] in response.json()["importance"]


def test_a_retrieval_of_a_memory_deleted_since_the_search_is_recorded_without_counting_it(
    database_url: str, run_sql: SqlRunner
) -> None:
    kept, deleted = uuid.uuid4(), uuid.uuid4()

    async def scenario() -> uuid.UUID:
        await apply_schema_migrations(database_url)
        engine = create_engine(database_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(
                    "INSERT INTO memories (id, tier, content, content_hash) VALUES ($1, 'episodic', 'kept', 'k')",
                    (kept,),
                )
            learning = LearningService(
                session_factory(engine), Settings.model_validate({"DATABASE_URL": database_url})
            )
            retrieval = Retrieval(owner="admin", agent_id="agent-1", query="q", surfaced=[kept, deleted])
            await learning.record_retrieval(retrieval)
            return retrieval.id
        finally:
            await engine.dispose()

    retrieval_id = asyncio.run(scenario())

    [row] = run_sql("SELECT surfaced FROM retrievals WHERE id = $1", retrieval_id)
    assert row["surfaced"] == [kept, deleted]
    assert access_counts(run_sql, [str(kept), str(deleted)]) == {str(kept): 1}


def test_the_relaxed_durability_of_retrieval_bookkeeping_ends_with_its_own_statement(
    database_url: str,
) -> None:
    async def scenario() -> tuple[str, int, int]:
        await apply_schema_migrations(database_url)
        engine = create_engine(database_url, pool_size=1)
        sessions = session_factory(engine)
        try:
            async with sessions() as session:
                before = (await session.execute(BACKEND_PID)).scalar_one()
            await LearningService(
                sessions, Settings.model_validate({"DATABASE_URL": database_url})
            ).record_retrieval(Retrieval(owner=None, agent_id=None, query="q", surfaced=[]))
            async with sessions() as session:
                after = (await session.execute(BACKEND_PID)).scalar_one()
                setting = (await session.execute(text("SHOW synchronous_commit"))).scalar_one()
        finally:
            await engine.dispose()
        return setting, before, after

    setting, before, after = asyncio.run(scenario())

    assert before == after  # the pool's one connection, used by the bookkeeping in between
    assert setting == "on"


def test_retrieval_bookkeeping_commits_without_waiting_for_the_wal_flush_that_a_durable_commit_waits_for(
    database_url: str,
) -> None:
    wal_fsyncs = "SELECT coalesce(sum(fsyncs), 0) FROM pg_stat_io WHERE object = 'wal' AND backend_type = 'client backend'"

    async def scenario() -> tuple[int, int]:
        await apply_schema_migrations(database_url)
        engine = create_engine(database_url, pool_size=1)
        sessions = session_factory(engine)
        learning = LearningService(sessions, Settings.model_validate({"DATABASE_URL": database_url}))
        monitor = await asyncpg.connect(database_url)

        async def fsyncs_during(work: Callable[[], Awaitable[object]]) -> int:
            async def flushed() -> int:
                # The backends' I/O statistics reach the shared view when they go idle after this.
                async with sessions() as session:
                    await session.execute(text("SELECT pg_stat_force_next_flush()"))
                await monitor.execute("SELECT pg_stat_force_next_flush()")
                await asyncio.sleep(0.1)
                await monitor.execute("SELECT pg_stat_clear_snapshot()")
                return int(await monitor.fetchval(wal_fsyncs))

            before = await flushed()
            for _ in range(5):
                await work()
            return await flushed() - before

        async def durable_commit() -> None:
            async with sessions.begin() as session:
                await session.execute(
                    text("INSERT INTO retrievals (id, query, surfaced) VALUES (gen_random_uuid(), 'q', '{}')")
                )

        async def bookkeeping() -> None:
            await learning.record_retrieval(Retrieval(owner=None, agent_id=None, query="q", surfaced=[]))

        try:
            return await fsyncs_during(durable_commit), await fsyncs_during(bookkeeping)
        finally:
            await monitor.close()
            await engine.dispose()

    durable, relaxed = asyncio.run(scenario())

    assert durable >= 5  # each durable commit waited for its WAL to reach the disk
    assert relaxed == 0


def test_retrieval_bookkeeping_refuses_to_join_a_callers_transaction(database_url: str) -> None:
    async def scenario() -> None:
        await apply_schema_migrations(database_url)
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine).begin() as session:
                await session.execute(BACKEND_PID)
                await repository.record_retrieval(
                    session, retrieval_id=uuid.uuid4(), owner=None, agent_id=None, query="q", surfaced=[]
                )
        finally:
            await engine.dispose()

    with pytest.raises(RuntimeError, match="outside a transaction"):
        asyncio.run(scenario())


def test_pooled_connections_the_server_closed_are_replaced_before_a_request_uses_them(
    make_service: ServiceFactory, gateway_url: str, run_sql: SqlRunner
) -> None:
    with make_service(gateway_url, INGEST_ENABLED=False) as client:
        client.post(BASE, json={"content": "The release train leaves on Thursdays."})
        assert client.post(f"{BASE}/agent-1/context", json={"query": "release train"}).status_code == 200

        others = (
            "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        run_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}")
        eventually(
            lambda: not run_sql(f"SELECT pid FROM pg_stat_activity WHERE {others}"),
            timeout=30,
            what="the service's connections closed by the server",
        )

        for _ in range(3):
            response = client.post(f"{BASE}/agent-1/context", json={"query": "release train"})
            assert response.status_code == 200, response.text
            feedback = {
                "retrieval_id": response.json()["retrieval_id"],
                "used_memory_ids": [],
                "outcome": "neutral",
            }
            assert client.post(f"{BASE}/feedback", json=feedback).status_code == 200


def test_the_context_is_sent_before_its_retrieval_is_written_and_feedback_on_it_waits_for_the_row(
    nova_env: dict[str, str],
    database_url: str,
    redis_base_url: str,
    gateway_url: str,
    run_sql: SqlRunner,
    tmp_path: Path,
    memory_process: Callable[..., Any],
) -> None:
    """The write of a context's retrieval is off the chat turn's path; it is held here by a row lock on the
    memory it counts as accessed, which a real server's response must not wait for."""
    env = {
        **nova_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_base_url,
        "LLM_GATEWAY_URL": gateway_url,
        "INGEST_ENABLED": "false",
        "CONSOLIDATION_ENABLED": "false",
        "COMPACTION_ENABLED": "false",
    }
    with memory_process(env, tmp_path / "memory-service.log") as (url, _):
        with httpx.Client(base_url=url, headers={"X-Service-Token": STACK_SERVICE_TOKEN}, timeout=20) as http:
            memory = http.post(BASE, json={"content": "The release train leaves on Thursdays."}).json()

            async def hold_the_row_while(steps: Callable[[], Awaitable[None]]) -> None:
                connection = await asyncpg.connect(database_url)
                try:
                    async with connection.transaction():
                        await connection.execute(
                            "SELECT 1 FROM memories WHERE id = $1 FOR UPDATE", uuid.UUID(memory["id"])
                        )
                        await steps()
                finally:
                    await connection.close()

            outcome: dict[str, Any] = {}

            async def context_then_feedback() -> None:
                context = await asyncio.to_thread(
                    http.post, f"{BASE}/agent-1/context", json={"query": "release train"}
                )
                assert context.status_code == 200, context.text
                body = context.json()
                assert body["memory_ids"] == [memory["id"]]
                outcome["written_when_sent"] = await asyncio.to_thread(
                    run_sql, "SELECT 1 FROM retrievals WHERE id = $1", uuid.UUID(body["retrieval_id"])
                )
                feedback = {
                    "retrieval_id": body["retrieval_id"],
                    "used_memory_ids": [memory["id"]],
                    "outcome": "success",
                }
                outcome["feedback"] = asyncio.ensure_future(
                    asyncio.to_thread(http.post, f"{BASE}/feedback", json=feedback)
                )
                await asyncio.sleep(0.5)
                outcome["feedback_done_while_held"] = outcome["feedback"].done()

            async def scenario() -> httpx.Response:
                await hold_the_row_while(context_then_feedback)
                response: httpx.Response = await outcome["feedback"]
                return response

            feedback = asyncio.run(scenario())

    assert outcome["written_when_sent"] == []
    assert outcome["feedback_done_while_held"] is False
    assert feedback.status_code == 200, feedback.text
    assert memory["id"] in feedback.json()["importance"]
    assert access_counts(run_sql, [memory["id"]]) == {memory["id"]: 1}
