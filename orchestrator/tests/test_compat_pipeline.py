"""The pipeline routes the earlier implementation's clients rely on (issue 20): delete one task or every task in
a finished status, statistics and per-stage latency over a window, and the notifications stream."""

import json
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrator.config import Settings
from orchestrator.main import create_app

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import ADMIN, submit, wait_for

NOOP = [{"name": "noop", "role": "passthrough"}]


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    """An API-only orchestrator: submitted tasks stay queued until cancelled."""
    without_workers = settings.pipeline.model_copy(update={"workers_enabled": False})
    with TestClient(create_app(settings.model_copy(update={"pipeline": without_workers}))) as client:
        yield client


def _key(client: TestClient | httpx.Client, name: str) -> dict[str, str]:
    created = client.post("/api/v1/keys", json={"name": name, "rate_limit_rpm": 10_000}, headers=ADMIN)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


def _submit_as(client: TestClient | httpx.Client, headers: dict[str, str], goal: str, **fields: Any) -> str:
    response = client.post("/api/v1/pipeline/tasks", json={"goal": goal, **fields}, headers=headers)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["id"]
    return task_id


def _cancel(client: TestClient, headers: dict[str, str], task_id: str) -> None:
    assert client.post(f"/api/v1/pipeline/tasks/{task_id}/cancel", headers=headers).status_code == 200


def test_a_finished_task_is_deleted_with_204_and_an_active_one_is_refused_with_400(api: TestClient) -> None:
    active = submit(api, "still waiting")["id"]
    finished = submit(api, "given up")["id"]
    _cancel(api, ADMIN, finished)

    refused = api.delete(f"/api/v1/pipeline/tasks/{active}", headers=ADMIN)
    assert refused.status_code == 400
    assert "queued" in refused.json()["detail"] and "cancel" in refused.json()["detail"]
    assert api.get(f"/api/v1/pipeline/tasks/{active}", headers=ADMIN).status_code == 200

    assert api.delete(f"/api/v1/pipeline/tasks/{finished}", headers=ADMIN).status_code == 204
    assert api.get(f"/api/v1/pipeline/tasks/{finished}", headers=ADMIN).status_code == 404
    assert api.delete(f"/api/v1/pipeline/tasks/{finished}", headers=ADMIN).status_code == 404


def test_another_keys_task_cannot_be_deleted_and_is_not_revealed(api: TestClient) -> None:
    owner, other = _key(api, "owner"), _key(api, "other")
    task_id = _submit_as(api, owner, "mine")
    _cancel(api, owner, task_id)
    assert api.delete(f"/api/v1/pipeline/tasks/{task_id}", headers=other).status_code == 404
    assert api.get(f"/api/v1/pipeline/tasks/{task_id}", headers=owner).status_code == 200


def test_bulk_delete_by_status_removes_only_the_callers_finished_tasks_and_refuses_active_statuses(
    api: TestClient,
) -> None:
    owner, other = _key(api, "bulk-owner"), _key(api, "bulk-other")
    mine = [_submit_as(api, owner, f"mine {i}") for i in range(2)]
    theirs = _submit_as(api, other, "theirs")
    for task_id in mine:
        _cancel(api, owner, task_id)
    _cancel(api, other, theirs)
    still_queued = _submit_as(api, owner, "queued one")

    refused = api.delete("/api/v1/pipeline/tasks?status=queued", headers=owner)
    assert refused.status_code == 400 and "queued" in refused.json()["detail"]
    assert api.delete("/api/v1/pipeline/tasks", headers=owner).status_code == 422

    response = api.delete("/api/v1/pipeline/tasks?status=cancelled", headers=owner)
    assert response.status_code == 200 and response.json() == {"deleted": 2}
    assert all(api.get(f"/api/v1/pipeline/tasks/{t}", headers=owner).status_code == 404 for t in mine)
    assert api.get(f"/api/v1/pipeline/tasks/{theirs}", headers=other).status_code == 200
    assert api.get(f"/api/v1/pipeline/tasks/{still_queued}", headers=owner).status_code == 200


def test_stats_count_the_callers_tasks_of_the_window_by_status(api: TestClient) -> None:
    caller = _key(api, "stats")
    queued = _submit_as(api, caller, "one")
    _cancel(api, caller, _submit_as(api, caller, "two"))
    submit(api, "the admin's own, not the key's")

    response = api.get("/api/v1/pipeline/stats?window_hours=1", headers=caller)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["window_hours"] == 1 and stats["total"] == 2
    assert stats["by_status"] == {"queued": 1, "cancelled": 1}
    assert (stats["completed"], stats["failed"], stats["cancelled"]) == (0, 0, 1)
    assert stats["success_rate"] is None and stats["needs_attention"] == 0
    assert api.get(f"/api/v1/pipeline/tasks/{queued}", headers=caller).status_code == 200
    assert api.get("/api/v1/pipeline/stats?window_hours=0", headers=caller).status_code == 422
    assert api.get("/api/v1/pipeline/stats/latency?window_hours=100000", headers=caller).status_code == 422


def _sse_json(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            yield json.loads(line[5:])


def _listen(
    url: str, headers: dict[str, str], into: "queue.Queue[dict[str, Any]]", ready: threading.Event
) -> None:
    with httpx.Client(base_url=url, timeout=httpx.Timeout(5, read=60)) as client:
        try:
            with client.stream("GET", "/api/v1/pipeline/notifications/stream", headers=headers) as response:
                ready.set()
                for event in _sse_json(response.iter_lines()):
                    into.put(event)
        except httpx.TransportError:
            pass  # the orchestrator is stopped at the end of the test while the stream is open


def test_notifications_stream_tells_a_key_of_its_completed_task_only_and_latency_counts_the_stage(
    orchestrator_process: Callable[..., str],
) -> None:
    url = orchestrator_process()
    with httpx.Client(base_url=url, timeout=30) as client:
        listener, other = _key(client, "listener"), _key(client, "someone-else")
        pod = client.post("/api/v1/pods", json={"name": "Notify", "agents": NOOP}, headers=ADMIN)
        assert pod.status_code == 201, pod.text
        received: queue.Queue[dict[str, Any]] = queue.Queue()
        ready = threading.Event()
        threading.Thread(target=_listen, args=(url, listener, received, ready), daemon=True).start()
        assert ready.wait(30)

        theirs = _submit_as(client, other, "not yours", pod_id=pod.json()["id"])
        wait_for(
            lambda: (
                client.get(f"/api/v1/pipeline/tasks/{theirs}", headers=other).json()["status"] == "complete"
            ),
            what="the other key's task completes",
        )
        mine = _submit_as(client, listener, "tell me when done", pod_id=pod.json()["id"])

        notification = received.get(timeout=60)
        assert notification["task_id"] == mine
        assert notification["kind"] == "completed" and notification["status"] == "complete"
        assert notification["goal"] == "tell me when done"

        latency = client.get("/api/v1/pipeline/stats/latency?window_hours=1", headers=listener).json()
        assert [(s["stage"], s["count"]) for s in latency["stages"]] == [("noop", 1)]
        stage = latency["stages"][0]
        assert 0 <= stage["p50_seconds"] <= stage["p95_seconds"]
        assert latency["end_to_end"]["count"] == 1
        stats = client.get("/api/v1/pipeline/stats", headers=listener).json()
        assert (stats["completed"], stats["success_rate"]) == (1, 1.0)
