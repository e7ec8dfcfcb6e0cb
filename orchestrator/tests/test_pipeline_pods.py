"""Pods are cached per orchestrator for routing; a change through any orchestrator reaches every cache."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.config import Settings
from orchestrator.main import create_app

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import ADMIN, create_pod, fast_loops, submit, wait_for

NOOP = [{"name": "noop", "role": "passthrough"}]


@pytest.fixture
def two_orchestrators(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API-only orchestrators on one database and Redis."""
    settings = fast_loops(settings, workers_enabled=False)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        yield first, second


def _routed(client: TestClient, goal: str) -> str:
    name: str = submit(client, goal)["pod_name"]
    return name


def test_a_pod_change_made_through_one_orchestrator_routes_the_next_goal_on_another(
    two_orchestrators: tuple[TestClient, TestClient],
) -> None:
    first, second = two_orchestrators
    # Both route (and so cache the pods) before the change.
    assert _routed(first, "feed the zebra") == _routed(second, "feed the zebra") == "Quartet"
    pod = create_pod(first, "Zoo", NOOP, routing_keywords=["zebra"], priority=100)
    assert _routed(first, "feed the zebra") == "Zoo"
    wait_for(lambda: _routed(second, "feed the zebra") == "Zoo", timeout=10, what="second sees the new pod")

    response = first.patch(f"/api/v1/pods/{pod['id']}", json={"enabled": False}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert _routed(first, "feed the zebra") == "Quartet"
    wait_for(
        lambda: _routed(second, "feed the zebra") == "Quartet", timeout=10, what="second sees it disabled"
    )

    assert first.delete(f"/api/v1/pods/{pod['id']}", headers=ADMIN).status_code == 204
    response = second.post("/api/v1/pipeline/tasks", json={"goal": "x", "pod_id": pod["id"]}, headers=ADMIN)
    assert response.status_code == 404


def test_a_pod_created_on_another_orchestrator_can_be_named_at_once(
    two_orchestrators: tuple[TestClient, TestClient],
) -> None:
    first, second = two_orchestrators
    _routed(second, "warm the cache")
    pod = create_pod(first, "Fresh", NOOP)
    # No waiting for the change message: a named pod missing from the cache is looked up.
    assert submit(second, "run here", pod_id=pod["id"])["pod_name"] == "Fresh"
