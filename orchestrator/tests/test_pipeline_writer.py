"""The workers' batched task writes against the real PostgreSQL and Redis: each write of a batch is its own
compare-and-set, and one failing write does not take the others down with it."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from nova_common.postgres import create_pool
from nova_common.redis import create_redis
from nova_contracts.orchestrator import PipelineTaskState as S
from orchestrator.db.migrations import apply_migrations
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.repository import (
    WRITE_SQL,
    Fence,
    Hop,
    Note,
    PipelineRepository,
    StageRecords,
    TaskWrite,
)
from orchestrator.pipeline.state import IllegalTransition
from orchestrator.pipeline.writer import TaskWriter, _closed

POD = {"name": "noop", "agents": [{"name": "noop", "role": "passthrough"}]}


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    pool = await create_pool(database_url, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def writer(pool: asyncpg.Pool, redis_base_url: str) -> AsyncIterator[TaskWriter]:
    redis = create_redis("orchestrator", redis_base_url)
    writer = TaskWriter(pool, ProgressPublisher(redis))
    try:
        yield writer
    finally:
        await writer.aclose()
        await redis.aclose()


async def _running_tasks(repository: PipelineRepository, count: int) -> list[dict[str, Any]]:
    ids = []
    for i in range(count):
        task = await repository.insert_task(
            goal=f"t{i}", pod_id=None, pod=POD, tags=[], metadata={}, max_retries=3, owner_kind="admin", api_key_id=None,
            entry=(S.TASK_RUNNING, "noop"),
        )  # fmt: skip
        ids.append(task["id"])
    return await repository.claim_fresh("worker-a", ids)


def _finish(task: dict[str, Any], records: StageRecords | None = None) -> TaskWrite:
    return TaskWrite(
        task["id"], S.TASK_RUNNING, hops=[Hop(S.COMPLETING, "post_pipeline"), Hop(S.COMPLETE)],
        fence=Fence("worker-a", task["attempts"]), checkpoint_patch={"noop": {"output": task["goal"]}},
        notes=[Note("stage_completed", "noop")], values={"output": task["goal"]}, records=records,
        records_stage="noop",
    )  # fmt: skip


async def test_concurrent_writes_commit_each_with_its_timeline_and_a_failing_one_fails_alone(
    pool: asyncpg.Pool, writer: TaskWriter
) -> None:
    repository = PipelineRepository(pool)
    tasks = await _running_tasks(repository, 30)
    # The finding's severity breaks a CHECK constraint: that write must fail, and only that one.
    bad = StageRecords(findings=[{"type": "pii", "severity": "apocalyptic", "description": "x"}])
    writes = [_finish(t, bad if i == 7 else None) for i, t in enumerate(tasks)]
    results = await asyncio.gather(*(writer.write(w) for w in writes), return_exceptions=True)

    assert isinstance(results[7], asyncpg.CheckViolationError)
    done = [r for i, r in enumerate(results) if i != 7]
    assert all(isinstance(r, dict) and r["status"] == "complete" and r["worker_id"] is None for r in done)
    rows = await pool.fetch("SELECT id, status, output FROM pipeline_tasks")
    assert {r["id"]: r["status"] for r in rows}[tasks[7]["id"]] == "task_running"
    assert sum(r["status"] == "complete" for r in rows) == 29
    events = await pool.fetch(
        "SELECT kind, from_status, to_status FROM pipeline_task_events WHERE task_id = $1 ORDER BY id",
        tasks[0]["id"],
    )
    assert [tuple(e) for e in events][-3:] == [
        ("stage_completed", None, None), ("transition", "task_running", "completing"),
        ("transition", "completing", "complete"),
    ]  # fmt: skip
    assert (
        await pool.fetchval("SELECT count(*) FROM pipeline_task_events WHERE task_id = $1", tasks[7]["id"])
        == 3
    )


async def test_a_write_with_a_stale_fence_or_state_changes_nothing(
    pool: asyncpg.Pool, writer: TaskWriter
) -> None:
    repository = PipelineRepository(pool)
    task, other = await _running_tasks(repository, 2)
    stale = _finish(task)
    stale.fence = Fence("worker-a", task["attempts"] - 1)
    assert await writer.write(stale) is None
    wrong_state = _finish(other)
    wrong_state.current = S.REVIEW_RUNNING
    assert await writer.write(wrong_state) is None
    statuses = {r["id"]: r["status"] for r in await pool.fetch("SELECT id, status FROM pipeline_tasks")}
    assert statuses == {task["id"]: "task_running", other["id"]: "task_running"}
    assert await writer.write(_finish(task)) is not None


async def test_an_illegal_transition_is_refused_before_anything_is_sent(
    pool: asyncpg.Pool, writer: TaskWriter
) -> None:
    (task,) = await _running_tasks(PipelineRepository(pool), 1)
    with pytest.raises(IllegalTransition):
        await writer.write(TaskWrite(task["id"], S.TASK_RUNNING, hops=[Hop(S.SUBMITTED)], fence=None))
    assert (
        await pool.fetchval("SELECT status FROM pipeline_tasks WHERE id = $1", task["id"]) == "task_running"
    )


async def test_a_connection_the_server_ended_between_batches_is_replaced_and_the_write_lands(
    pool: asyncpg.Pool, writer: TaskWriter
) -> None:
    """A restore ends every other backend with `pg_terminate_backend`; the writer's held connection is one of
    them, and the next stage's write must not fail because of it."""
    repository = PipelineRepository(pool)
    first, second = await _running_tasks(repository, 2)
    assert await writer.write(_finish(first)) is not None
    held = writer._conn.get_server_pid()
    assert await pool.fetchval("SELECT pg_terminate_backend($1)", held)
    for _ in range(100):  # asyncpg notices the closed socket on its next read
        if _closed(writer._conn):
            break
        await asyncio.sleep(0.02)
    written = await writer.write(_finish(second))
    assert written is not None and written["status"] == "complete"
    assert writer._conn.get_server_pid() != held
    # The dead connection's slot went back to the pool: the other three of its four can still be taken.
    others = [await pool.acquire(timeout=5) for _ in range(3)]
    for conn in others:
        await pool.release(conn)
    assert await pool.fetchval("SELECT status FROM pipeline_tasks WHERE id = $1", second["id"]) == "complete"


SNAPSHOT = Path(__file__).parent / "snapshots" / "pipeline_write.sql"


def test_generated_write_statement_matches_its_reviewed_snapshot() -> None:
    """`WRITE_SQL` is generated from column tables at import; a change to those tables shows up here as a
    diff of the SQL itself, to be read and then accepted by rewriting the snapshot:
    `uv run python -c "from orchestrator.pipeline.repository import WRITE_SQL; print(WRITE_SQL)"
    > orchestrator/tests/snapshots/pipeline_write.sql`."""
    assert WRITE_SQL + "\n" == SNAPSHOT.read_text(encoding="utf-8")
