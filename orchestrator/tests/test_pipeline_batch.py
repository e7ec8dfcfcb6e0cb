"""Batch submission (`POST /api/v1/pipeline/tasks/batch`, issue 22): one transaction and one push for many
tasks, with the single submission's validation, tenancy and limits, and the item at fault named."""

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.postgres import create_pool
from nova_contracts.orchestrator import MAX_PIPELINE_BATCH
from nova_contracts.orchestrator import PipelineTaskState as S
from orchestrator.config import Settings
from orchestrator.db.migrations import apply_migrations
from orchestrator.pipeline.repository import NewTask, PipelineRepository
from orchestrator.pipeline.submissions import SubmissionCommitter

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import (
    ADMIN,
    create_pod,
    fast_loops,
    pipeline_client,
    task_in,
    transitions,
    wait_for,
)

NOOP = [{"name": "noop", "role": "passthrough"}]
BATCH = "/api/v1/pipeline/tasks/batch"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from pipeline_client(fast_loops(settings, worker_concurrency=8))


@pytest.fixture
def api_only_client(settings: Settings) -> Iterator[TestClient]:
    """Serves the API but runs no worker, so what a batch queued stays queued to be looked at."""
    yield from pipeline_client(fast_loops(settings, workers_enabled=False))


def _queue(redis_base_url: str) -> list[str]:
    db2 = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/2", decode_responses=True)
    return [str(i) for i in reversed(db2.lrange("nova:pipeline:queue", 0, -1))]  # oldest first, as taken


def _key(client: TestClient, name: str = "k", **fields: Any) -> dict[str, str]:
    body = {"name": name, "rate_limit_rpm": 10_000, **fields}
    created = client.post("/api/v1/keys", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


def test_a_batch_is_queued_in_order_and_every_task_runs_to_complete_with_its_timeline(
    client: TestClient,
) -> None:
    pod = create_pod(client, "noop", NOOP)
    tasks = [{"goal": f"echo {i}", "pod_id": pod["id"], "tags": [f"t{i}"]} for i in range(20)]
    response = client.post(BATCH, json={"tasks": tasks}, headers=ADMIN)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and len(body["ids"]) == 20
    for i, task_id in enumerate(body["ids"]):
        done = wait_for(partial(task_in, client, task_id, "complete"), what=f"{task_id} complete")
        assert done["output"] == f"echo {i}" and done["tags"] == [f"t{i}"] and done["pod_name"] == "noop"
        assert transitions(client, task_id)[:3] == [
            (None, "submitted"), ("submitted", "queued"), ("queued", "task_running"),
        ]  # fmt: skip


def test_a_batch_is_pushed_to_redis_only_as_committed_ids_in_the_order_sent(
    api_only_client: TestClient, redis_base_url: str
) -> None:
    pod = create_pod(api_only_client, "noop", NOOP)
    tasks = [{"goal": f"g{i}", "pod_id": pod["id"]} for i in range(5)]
    ids = api_only_client.post(BATCH, json={"tasks": tasks}, headers=ADMIN).json()["ids"]
    assert _queue(redis_base_url) == ids
    listed = api_only_client.get("/api/v1/pipeline/tasks", params={"status": "queued"}, headers=ADMIN).json()
    assert {t["id"]: t["goal"] for t in listed["items"]} == {ids[i]: f"g{i}" for i in range(5)}


def test_a_batch_with_an_unknown_pod_is_a_404_naming_the_item_and_queues_nothing(
    api_only_client: TestClient, redis_base_url: str
) -> None:
    pod = create_pod(api_only_client, "noop", NOOP)
    missing = str(uuid.uuid4())
    tasks = [{"goal": "fine", "pod_id": pod["id"]}, {"goal": "lost", "pod_id": missing}]
    response = api_only_client.post(BATCH, json={"tasks": tasks}, headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["detail"] == f"tasks[1]: pod {missing} not found"
    assert api_only_client.get("/api/v1/pipeline/tasks", headers=ADMIN).json()["total"] == 0
    assert _queue(redis_base_url) == []


def test_an_invalid_item_is_a_422_locating_it_in_the_batch(api_only_client: TestClient) -> None:
    response = api_only_client.post(BATCH, json={"tasks": [{"goal": "ok"}, {"goal": ""}]}, headers=ADMIN)
    assert response.status_code == 422
    assert ["body", "tasks", 1, "goal"] in [error["loc"] for error in response.json()["detail"]]


def test_an_empty_batch_and_one_over_the_item_cap_are_refused_with_422(api_only_client: TestClient) -> None:
    assert api_only_client.post(BATCH, json={"tasks": []}, headers=ADMIN).status_code == 422
    over = [{"goal": "g"}] * (MAX_PIPELINE_BATCH + 1)
    response = api_only_client.post(BATCH, json={"tasks": over}, headers=ADMIN)
    assert response.status_code == 422
    assert api_only_client.get("/api/v1/pipeline/tasks", headers=ADMIN).json()["total"] == 0


def test_a_batch_body_over_the_request_size_cap_is_refused_with_413(api_only_client: TestClient) -> None:
    # 200 goals of 8 KiB: within the item cap, past the 1 MiB body cap every route has by default.
    tasks = [{"goal": "x" * 8192} for _ in range(200)]
    response = api_only_client.post(BATCH, json={"tasks": tasks}, headers=ADMIN)
    assert response.status_code == 413
    assert api_only_client.get("/api/v1/pipeline/tasks", headers=ADMIN).json()["total"] == 0


def test_a_batch_needs_a_credential(api_only_client: TestClient) -> None:
    response = api_only_client.post(BATCH, json={"tasks": [{"goal": "g"}]})
    assert response.status_code == 401


def test_a_keys_batch_tasks_are_its_own_and_another_tenants_goal_is_not_found(
    api_only_client: TestClient,
) -> None:
    client = api_only_client
    pod = create_pod(client, "noop", NOOP)
    key, other = _key(client, "k"), _key(client, "other")
    ids = client.post(BATCH, json={"tasks": [{"goal": "mine", "pod_id": pod["id"]}]}, headers=key).json()[
        "ids"
    ]
    assert client.get(f"/api/v1/pipeline/tasks/{ids[0]}", headers=key).status_code == 200
    assert client.get(f"/api/v1/pipeline/tasks/{ids[0]}", headers=other).status_code == 404
    admins_goal = client.post("/api/v1/goals", json={"title": "admin's"}, headers=ADMIN).json()["id"]
    tasks = [{"goal": "a", "pod_id": pod["id"]}, {"goal": "b", "pod_id": pod["id"], "goal_id": admins_goal}]
    response = client.post(BATCH, json={"tasks": tasks}, headers=key)
    assert response.status_code == 404
    assert response.json()["detail"] == f"tasks[1]: goal {admins_goal} not found"
    assert client.get("/api/v1/pipeline/tasks", headers=key).json()["total"] == 1


def test_a_batch_counts_against_the_keys_rate_limit_like_a_single_submission(
    api_only_client: TestClient,
) -> None:
    client = api_only_client
    pod = create_pod(client, "noop", NOOP)
    key = _key(client, "slow", rate_limit_rpm=1)
    assert (
        client.post(BATCH, json={"tasks": [{"goal": "a", "pod_id": pod["id"]}]}, headers=key).status_code
        == 202
    )
    refused = client.post(BATCH, json={"tasks": [{"goal": "b", "pod_id": pod["id"]}]}, headers=key)
    assert refused.status_code == 429 and "requests/minute" in refused.json()["detail"]


def test_each_task_of_a_batch_counts_as_one_request_of_the_key(api_only_client: TestClient) -> None:
    client = api_only_client
    pod = create_pod(client, "noop", NOOP)
    key = _key(client, "five", rate_limit_rpm=5)
    tasks = [{"goal": f"five-{i}", "pod_id": pod["id"]} for i in range(6)]
    # A batch larger than the whole limit could never pass: said plainly, not "retry later".
    too_big = client.post(BATCH, json={"tasks": tasks}, headers=key)
    assert too_big.status_code == 400 and "at most 5" in too_big.json()["detail"]
    # One of five used by the refusal above; three more fit, then a batch of two no longer does.
    assert client.post(BATCH, json={"tasks": tasks[:3]}, headers=key).status_code == 202
    refused = client.post(BATCH, json={"tasks": tasks[3:5]}, headers=key)
    assert refused.status_code == 429 and "requests/minute" in refused.json()["detail"]
    listed = client.get("/api/v1/pipeline/tasks", params={"limit": 200}, headers=ADMIN).json()
    assert sorted(t["goal"] for t in listed["items"] if t["goal"].startswith("five-")) == [
        "five-0",
        "five-1",
        "five-2",
    ]


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


def _new(goal: str, goal_id: uuid.UUID | None = None) -> NewTask:
    pod = {"name": "noop", "agents": [{"name": "noop", "role": "passthrough"}]}
    return NewTask(goal, None, pod, [], {}, 3, "admin", None, (S.TASK_RUNNING, "noop"), goal_id)


async def test_single_submissions_arriving_together_are_committed_and_announced_as_one_group(
    pool: asyncpg.Pool,
) -> None:
    announced: list[list[uuid.UUID]] = []

    async def announce(ids: list[uuid.UUID]) -> None:
        announced.append(ids)

    committer = SubmissionCommitter(PipelineRepository(pool), announce)
    rows = await asyncio.gather(*(committer.insert(_new(f"g{i}")) for i in range(10)))
    assert [r["goal"] for r in rows] == [f"g{i}" for i in range(10)]
    assert announced == [[r["id"] for r in rows]]
    stored = await pool.fetchval("SELECT count(*) FROM pipeline_tasks WHERE status = 'queued'")
    assert stored == 10


async def test_a_failing_submission_in_a_group_fails_alone_and_is_never_announced(pool: asyncpg.Pool) -> None:
    announced: list[uuid.UUID] = []

    async def announce(ids: list[uuid.UUID]) -> None:
        announced.extend(ids)

    committer = SubmissionCommitter(PipelineRepository(pool), announce)
    results = await asyncio.gather(
        *(committer.insert(_new(f"g{i}", uuid.uuid4() if i == 3 else None)) for i in range(6)),
        return_exceptions=True,
    )
    assert isinstance(results[3], asyncpg.ForeignKeyViolationError)
    assert announced == [r["id"] for i, r in enumerate(results) if i != 3]  # type: ignore[index]
    goals = {r["goal"] for r in await pool.fetch("SELECT goal FROM pipeline_tasks")}
    assert goals == {"g0", "g1", "g2", "g4", "g5"}
