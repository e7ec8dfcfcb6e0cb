"""recovery's maintenance flag (a restore in progress) pauses the pipeline: the worker claims no task and the
reaper re-queues nothing until the flag goes; then both carry on by themselves."""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.maintenance import MAINTENANCE_KEY
from orchestrator.config import Settings

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import create_pod, fast_loops, pipeline_client, submit, task_in, wait_for

NOOP = [{"name": "noop", "role": "passthrough"}]


@pytest.fixture
def config_db(redis_base_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # No reaper sweep during the test: the flag's hold count is then the worker's alone.
    yield from pipeline_client(fast_loops(settings, reaper_seconds=3600))


@pytest.fixture
def api_only(settings: Settings) -> Iterator[TestClient]:
    """No worker: a task made stale stays for the reaper alone."""
    yield from pipeline_client(fast_loops(settings, workers_enabled=False))


def _flag_seen(client: TestClient) -> bool:
    flag = client.app.state.pipeline.reaper.maintenance  # type: ignore[attr-defined]
    return bool(client.portal.call(flag.active))  # type: ignore[union-attr]


def test_a_queued_task_is_not_claimed_during_maintenance_and_runs_once_it_ends(
    client: TestClient, config_db: redis.Redis
) -> None:
    pod = create_pod(client, "noop", NOOP)
    config_db.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
    wait_for(lambda: _flag_seen(client), what="the flag seen by the pipeline")
    task = submit(client, "wait for the restore", pod_id=pod["id"])
    worker = client.app.state.pipeline.worker  # type: ignore[attr-defined]
    held = worker.maintenance.held
    wait_for(lambda: worker.maintenance.held >= held + 2, what="the worker holding back twice")
    assert task_in(client, task["id"], "queued") is not None
    config_db.delete(MAINTENANCE_KEY)
    wait_for(lambda: task_in(client, task["id"], "complete"), what="the task run after maintenance")


def test_the_reaper_requeues_no_stale_task_during_maintenance_and_does_once_it_ends(
    api_only: TestClient, config_db: redis.Redis, run_sql: Callable[..., Any]
) -> None:
    client = api_only
    pod = create_pod(client, "noop", NOOP)
    task = submit(client, "its worker died", pod_id=pod["id"])
    config_db.set(MAINTENANCE_KEY, '{"operation": "restore"}', px=60_000)
    wait_for(lambda: _flag_seen(client), what="the flag seen by the pipeline")
    # Its worker died mid-stage long ago: outside maintenance the reaper would re-queue it at once.
    run_sql(
        """UPDATE pipeline_tasks SET status = 'task_running', worker_id = 'ghost', attempts = 1,
                  heartbeat_at = clock_timestamp() - interval '1 hour' WHERE id = $1""",
        task["id"],
    )
    flag = client.app.state.pipeline.reaper.maintenance  # type: ignore[attr-defined]
    held = flag.held
    wait_for(lambda: flag.held >= held + 2, what="the reaper skipping two sweeps")
    assert task_in(client, task["id"], "task_running") is not None
    config_db.delete(MAINTENANCE_KEY)
    requeued = wait_for(lambda: task_in(client, task["id"], "queued"), what="re-queued after maintenance")
    assert requeued["retries"] == 1
