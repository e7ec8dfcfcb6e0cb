"""Shared helpers of the pipeline tests (no tests here): the app with the pipeline mounted, pods, polling."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import Settings
from orchestrator.main import create_app

ADMIN = {"X-Admin-Secret": "orchestrator-test-admin-secret"}
FAST_LOOPS = {
    "PIPELINE_HEARTBEAT_SECONDS": "0.3",
    "PIPELINE_REAPER_SECONDS": "0.3",
    "PIPELINE_STALE_SECONDS": "2",
    "PIPELINE_REQUEUE_AFTER_SECONDS": "0.5",
}


def fast_loops(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    for key, value in {**FAST_LOOPS, **extra}.items():
        monkeypatch.setenv(key, value)


def pipeline_client(settings: Settings) -> Iterator[TestClient]:
    """The orchestrator app with the pipeline (mounted here until main.py wires it; a no-op afterwards)."""
    with TestClient(create_app(settings)) as client:
        yield client


def create_pod(client: TestClient, name: str, agents: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/pods", json={"name": name, "agents": agents, **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    pod: dict[str, Any] = response.json()
    return pod


def submit(client: TestClient, goal: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/pipeline/tasks", json={"goal": goal, **fields}, headers=ADMIN)
    assert response.status_code == 202, response.text
    task: dict[str, Any] = response.json()
    return task


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


def task_in(client: TestClient, task_id: str, *states: str) -> dict[str, Any] | None:
    task: dict[str, Any] = client.get(f"/api/v1/pipeline/tasks/{task_id}", headers=ADMIN).json()
    return task if task["status"] in states else None


def transitions(client: TestClient, task_id: str) -> list[tuple[str | None, str | None]]:
    timeline = client.get(f"/api/v1/pipeline/tasks/{task_id}/timeline", headers=ADMIN).json()
    return [(e["from_status"], e["to_status"]) for e in timeline if e["kind"] == "transition"]
