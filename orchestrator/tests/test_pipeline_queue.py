"""Queue mechanics with a stage that does no model work: delivery, claims, reaper, Redis loss, load."""

import asyncio
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from fastapi.testclient import TestClient

from nova_contracts.orchestrator import PipelineTaskState as S
from orchestrator.config import Settings
from orchestrator.pipeline.state import Guard, IllegalTransition, check_transition

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import (
    ADMIN,
    create_pod,
    fast_loops,
    pipeline_client,
    submit,
    task_in,
    transitions,
    wait_for,
)

NOOP = [{"name": "noop", "role": "passthrough"}]


@pytest.fixture
def client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    yield from pipeline_client(fast_loops(settings, worker_concurrency=8))


@pytest.fixture
def api_only_client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """An orchestrator that serves the API but runs no worker, so a queued task stays queued."""
    yield from pipeline_client(fast_loops(settings, workers_enabled=False))


def _db2(redis_base_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/2", decode_responses=True)


def test_illegal_transitions_are_refused_and_every_non_terminal_state_can_be_cancelled() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(S.QUEUED, S.COMPLETE)
    with pytest.raises(IllegalTransition):
        check_transition(S.COMPLETE, S.QUEUED)
    for state in S:
        if state not in (S.COMPLETE, S.FAILED, S.CANCELLED):
            check_transition(state, S.CANCELLED)
            check_transition(state, S.FAILED)


def test_a_submitted_task_runs_to_complete_and_its_timeline_records_every_transition(
    client: TestClient,
) -> None:
    pod = create_pod(client, "noop", NOOP)
    task = submit(client, "echo me", pod_id=pod["id"])
    assert task["status"] == "queued" and task["pod_name"] == "noop"
    done = wait_for(lambda: task_in(client, task["id"], "complete"), what="complete")
    assert done["output"] == "echo me" and done["completed_stages"] == ["noop"] and done["attempts"] == 1
    assert transitions(client, task["id"]) == [
        (None, "submitted"), ("submitted", "queued"), ("queued", "task_running"),
        ("task_running", "completing"), ("completing", "complete"),
    ]  # fmt: skip


def test_presets_are_seeded_and_a_goal_is_routed_by_keyword_else_to_the_default_pod(
    client: TestClient,
) -> None:
    names = {p["name"] for p in client.get("/api/v1/pods", headers=ADMIN).json()}
    assert {"Quartet", "Quick Reply", "Research", "Code Generation", "Analysis"} <= names
    client.post("/api/v1/pipeline/queue-stats", headers=ADMIN)
    research = submit(client, "Please research the best Redis queue")
    assert research["pod_name"] == "Research"
    other = submit(client, "Make the build greener")
    assert other["pod_name"] == "Quartet"


def test_two_workers_racing_for_one_task_run_it_once(client: TestClient, database_url: str) -> None:
    pod = create_pod(client, "noop", NOOP)
    runtime = client.app.state.pipeline  # type: ignore[attr-defined]
    worker = runtime.worker
    # The same id twice in the queue (a re-push while the first copy is being claimed), then both handled at once.
    task = submit(client, "race", pod_id=pod["id"])
    results = client.portal.call(  # type: ignore[union-attr]
        lambda: asyncio.gather(
            worker._claim_and_run([uuid.UUID(task["id"])]), worker._claim_and_run([uuid.UUID(task["id"])])
        )
    )
    assert results == [None, None]
    done = wait_for(lambda: task_in(client, task["id"], "complete"))
    assert done["attempts"] == 1
    claims = [t for t in transitions(client, task["id"]) if t[0] == "queued"]
    assert claims == [("queued", "task_running")]


def test_tasks_queued_when_redis_is_flushed_are_pushed_again_and_complete(
    client: TestClient, redis_base_url: str, run_sql: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = create_pod(client, "noop", NOOP)
    pipeline = client.app.state.pipeline  # type: ignore[attr-defined]
    # Stop the worker from taking work, queue tasks, lose Redis' copy, then let the worker run again.
    client.portal.call(pipeline.worker._slots.acquire)  # type: ignore[union-attr]
    for _ in range(pipeline.settings.worker_concurrency - 1 if hasattr(pipeline, "settings") else 7):
        client.portal.call(pipeline.worker._slots.acquire)  # type: ignore[union-attr]
    ids = [submit(client, f"survive {i}", pod_id=pod["id"])["id"] for i in range(5)]
    _db2(redis_base_url).flushall()
    assert _db2(redis_base_url).llen("nova:pipeline:queue") == 0
    for _ in range(8):
        client.portal.call(pipeline.worker._slots.release)  # type: ignore[union-attr]
    for task_id in ids:
        wait_for(lambda t=task_id: task_in(client, t, "complete"), what=f"{task_id} complete")
    assert run_sql("SELECT count(*) AS n FROM pipeline_tasks WHERE attempts <> 1")[0]["n"] == 0


def test_a_thousand_concurrent_submissions_all_complete_exactly_once(
    client: TestClient, run_sql: Callable[..., Any]
) -> None:
    pod = create_pod(client, "noop", NOOP)
    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(lambda i: submit(client, f"task {i}", pod_id=pod["id"])["id"], range(1000)))
    assert len(set(ids)) == 1000

    def all_done() -> bool:
        return run_sql("SELECT count(*) AS n FROM pipeline_tasks WHERE status = 'complete'")[0]["n"] == 1000

    wait_for(all_done, timeout=300, what="1000 complete")
    rows = run_sql(
        """SELECT count(*) FILTER (WHERE attempts = 1) AS once,
                  (SELECT count(*) FROM pipeline_task_events WHERE to_status = 'complete') AS completions
           FROM pipeline_tasks"""
    )
    assert rows[0]["once"] == 1000 and rows[0]["completions"] == 1000
    stats = client.get("/api/v1/pipeline/queue-stats", headers=ADMIN).json()
    assert stats["depth"] == 0 and stats["queued"] == 0 and stats["running"] == 0


def test_cancel_of_a_queued_task_is_recorded_and_a_second_cancel_conflicts(
    api_only_client: TestClient,
) -> None:
    client = api_only_client
    pod = create_pod(client, "noop", NOOP, enabled=True)
    task = submit(client, "never mind", pod_id=pod["id"])
    response = client.post(f"/api/v1/pipeline/tasks/{task['id']}/cancel", headers=ADMIN)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/pipeline/tasks/{task['id']}/cancel", headers=ADMIN).status_code == 409
    assert transitions(client, task["id"])[-1] == ("queued", "cancelled")


def test_only_a_dead_lettered_failure_may_leave_a_terminal_state() -> None:
    assert check_transition(S.FAILED, S.QUEUED) is Guard.DEAD_LETTERED
    for terminal in (S.COMPLETE, S.CANCELLED):
        with pytest.raises(IllegalTransition):
            check_transition(terminal, S.QUEUED)
    with pytest.raises(IllegalTransition):
        check_transition(S.FAILED, S.TASK_RUNNING)


def test_a_dead_lettered_task_is_requeued_through_the_state_machine_and_the_timeline_records_it(
    api_only_client: TestClient, run_sql: Callable[..., Any], redis_base_url: str
) -> None:
    client = api_only_client
    pod = create_pod(client, "noop", NOOP)
    task = submit(client, "doomed", pod_id=pod["id"], max_retries=0)
    # Its worker died mid-stage long ago (no process here runs tasks): the reaper finds it out of retries.
    run_sql(
        """UPDATE pipeline_tasks SET status = 'task_running', worker_id = 'ghost', attempts = 1,
                  heartbeat_at = clock_timestamp() - interval '1 hour' WHERE id = $1""",
        task["id"],
    )
    failed = wait_for(lambda: task_in(client, task["id"], "failed"), what="dead-lettered")
    assert failed["error"].startswith("retries exhausted")
    letters = client.get("/api/v1/pipeline/dead-letter", headers=ADMIN).json()
    assert [entry["task_id"] for entry in letters] == [task["id"]]

    response = client.post(f"/api/v1/pipeline/dead-letter/{task['id']}/requeue", headers=ADMIN)
    assert response.status_code == 200, response.text
    requeued = response.json()
    assert requeued["status"] == "queued" and requeued["retries"] == 0 and requeued["error"] is None
    assert transitions(client, task["id"])[-2:] == [("task_running", "failed"), ("failed", "queued")]
    last = client.get(f"/api/v1/pipeline/tasks/{task['id']}/timeline", headers=ADMIN).json()[-1]
    assert last["detail"] == "re-queued from the dead letter" and last["worker_id"] == "admin"
    assert client.get("/api/v1/pipeline/dead-letter", headers=ADMIN).json() == []
    assert task["id"] in _db2(redis_base_url).lrange("nova:pipeline:queue", 0, -1)
    # Out of the dead letter now: a second re-queue is refused and changes nothing.
    before = transitions(client, task["id"])
    again = client.post(f"/api/v1/pipeline/dead-letter/{task['id']}/requeue", headers=ADMIN)
    assert again.status_code == 409
    assert transitions(client, task["id"]) == before


def test_requeue_refuses_a_task_that_failed_without_being_dead_lettered_or_did_not_fail(
    api_only_client: TestClient, run_sql: Callable[..., Any]
) -> None:
    client = api_only_client
    pod = create_pod(client, "noop", NOOP)
    failed = submit(client, "failed by a stage", pod_id=pod["id"])
    run_sql(
        "UPDATE pipeline_tasks SET status = 'failed', error = 'stage task failed' WHERE id = $1", failed["id"]
    )
    cancelled = submit(client, "cancelled", pod_id=pod["id"])
    client.post(f"/api/v1/pipeline/tasks/{cancelled['id']}/cancel", headers=ADMIN)
    for task_id, status in ((failed["id"], "failed"), (cancelled["id"], "cancelled")):
        before = transitions(client, task_id)
        response = client.post(f"/api/v1/pipeline/dead-letter/{task_id}/requeue", headers=ADMIN)
        assert response.status_code == 409, response.text
        assert client.get(f"/api/v1/pipeline/tasks/{task_id}", headers=ADMIN).json()["status"] == status
        assert transitions(client, task_id) == before
    missing = client.post(f"/api/v1/pipeline/dead-letter/{uuid.uuid4()}/requeue", headers=ADMIN)
    assert missing.status_code == 404


_ = asyncpg
