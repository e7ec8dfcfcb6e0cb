"""Goals API: ownership per key, schedules, the maturation track, iterations recorded once, cortex's stimuli."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.redis import redis_url_for
from nova_contracts.goals import CORTEX_STIMULI_KEY


def new_key(client: TestClient, admin: dict[str, str], name: str) -> dict[str, str]:
    response = client.post("/api/v1/keys", headers=admin, json={"name": name})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def create_goal(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/goals", headers=headers, json={"title": "Keep the docs current", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def stimuli(redis_base_url: str) -> redis.Redis:
    connection = redis.Redis.from_url(redis_url_for("cortex", redis_base_url), decode_responses=True)
    connection.delete(CORTEX_STIMULI_KEY)
    return connection


def test_goal_is_created_with_defaults_and_announced_to_cortex(
    client: TestClient, admin: dict[str, str], stimuli: redis.Redis
) -> None:
    goal = create_goal(client, admin, priority=2)
    assert goal["status"] == "active"
    assert goal["priority"] == 2
    assert goal["progress"] == 0
    assert goal["created_by"] == "admin"
    assert goal["owner"] == "admin"
    assert goal["maturation_status"] == "triage"  # complexity unknown: cortex triages it
    pushed = [json.loads(item) for item in stimuli.lrange(CORTEX_STIMULI_KEY, 0, -1)]
    assert {"type": "goal.created", "goal_id": goal["id"]}.items() <= pushed[0].items()


def test_schedule_gets_its_next_fire_time_and_a_description(
    client: TestClient, admin: dict[str, str]
) -> None:
    before = datetime.now(UTC)
    goal = create_goal(client, admin, title="Review my PRs", schedule_cron="0 9 * * 1", complex=False)
    next_at = datetime.fromisoformat(goal["schedule_next_at"])
    assert before < next_at <= before + timedelta(days=7)
    assert (next_at.weekday(), next_at.hour, next_at.minute) == (0, 9, 0)
    assert "Monday" in goal["schedule_description"]
    assert goal["maturation_status"] is None

    cleared = client.patch(f"/api/v1/goals/{goal['id']}", headers=admin, json={"schedule_cron": None})
    assert cleared.status_code == 200
    assert cleared.json()["schedule_cron"] is None
    assert cleared.json()["schedule_next_at"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "schedule_cron": "61 * * * *"},
        {"title": "x", "schedule_cron": "every monday"},
        {"title": "x", "priority": 6},
        {"title": ""},
        {"title": "x\x00y"},
        {"title": "x", "check_interval_seconds": 5},
        {"title": "x", "max_cost_usd": -1},
        {"title": "x", "unknown": 1},
    ],
)
def test_bad_goal_is_refused_with_a_detail_and_nothing_stored(
    client: TestClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post("/api/v1/goals", headers=admin, json=body)
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]
    assert client.get("/api/v1/goals", headers=admin).json() == []


def test_a_key_sees_only_its_own_goals_and_the_admin_sees_all(
    client: TestClient, admin: dict[str, str]
) -> None:
    key_a, key_b = new_key(client, admin, "a"), new_key(client, admin, "b")
    goal_a = create_goal(client, key_a, title="A's goal")
    create_goal(client, key_b, title="B's goal")
    create_goal(client, admin, title="admin's goal")

    assert goal_a["created_by"] == "api_key"
    assert goal_a["owner"].startswith("key:")
    assert [g["title"] for g in client.get("/api/v1/goals", headers=key_a).json()] == ["A's goal"]
    assert len(client.get("/api/v1/goals", headers=admin).json()) == 3
    assert client.get("/api/v1/goals/stats", headers=key_b).json()["total"] == 1

    goal_url = f"/api/v1/goals/{goal_a['id']}"
    assert client.get(goal_url, headers=key_b).status_code == 404
    assert client.patch(goal_url, headers=key_b, json={"status": "paused"}).status_code == 404
    assert client.delete(goal_url, headers=key_b).status_code == 404
    assert client.post(f"{goal_url}/comments", headers=key_b, json={"body": "hi"}).status_code == 404
    assert client.get(goal_url, headers=key_a).json()["status"] == "active"


def test_goal_routes_need_a_credential_and_cortex_routes_need_the_service_token(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    goal = create_goal(client, admin)
    key = new_key(client, admin, "k")
    assert client.get("/api/v1/goals").status_code == 401
    iterations = f"/api/v1/goals/{goal['id']}/iterations"
    assert client.post(iterations, headers=key, json={"iteration": 1}).status_code in (401, 403)
    assert client.post(iterations, headers=service, json={"iteration": 1}).status_code == 201
    assert client.get("/api/v1/goals/due", headers=key).status_code in (401, 403)


def test_an_iteration_is_recorded_once_and_its_cost_counted_once(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    goal = create_goal(client, admin, complex=False)
    url = f"/api/v1/goals/{goal['id']}/iterations"
    first = client.post(url, headers=service, json={"iteration": 1, "plan": "write the changelog"})
    again = client.post(url, headers=service, json={"iteration": 1, "plan": "something else"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["plan"] == "write the changelog"

    done = {"outcome": "succeeded", "cost_usd": 0.25, "duration_ms": 1200, "progress": 0.5}
    for _ in range(2):  # a repeated report (a retry after a crash) must not double the cost
        response = client.patch(f"{url}/{first.json()['id']}", headers=service, json=done)
        assert response.status_code == 200, response.text
    updated = client.get(f"/api/v1/goals/{goal['id']}", headers=admin).json()
    assert updated["cost_usd"] == pytest.approx(0.25)
    assert updated["progress"] == 0.5
    assert updated["iteration_count"] == 1
    assert updated["current_plan"] == {"iteration": 1, "plan": "write the changelog"}
    listed = client.get(url, headers=admin).json()
    assert [(i["iteration"], i["outcome"]) for i in listed] == [(1, "succeeded")]
    assert listed[0]["finished_at"] is not None


def test_complex_goal_walks_the_maturation_track_with_a_person_approving(
    client: TestClient, admin: dict[str, str], service: dict[str, str]
) -> None:
    goal = create_goal(client, admin, complex=True)
    assert goal["maturation_status"] == "scoping"
    url = f"/api/v1/goals/{goal['id']}"

    assert client.post(f"{url}/approve-spec", headers=admin).status_code == 409  # nothing to review yet
    assert client.post(f"{url}/maturation", headers=service, json={"stage": "review"}).status_code == 409
    assert client.post(f"{url}/maturation", headers=service, json={"stage": "speccing"}).status_code == 200
    no_spec = client.post(f"{url}/maturation", headers=service, json={"stage": "review"})
    assert no_spec.status_code == 400
    review = client.post(f"{url}/maturation", headers=service, json={"stage": "review", "spec": "1. do x"})
    assert review.json()["maturation_status"] == "review"

    assert client.post(f"{url}/approve-spec", headers=service).status_code == 403  # a person decides
    rejected = client.post(f"{url}/reject-spec", headers=admin, json={"feedback": "also cover y"})
    assert rejected.json()["maturation_status"] == "speccing"
    assert rejected.json()["spec_feedback"] == "also cover y"
    client.post(f"{url}/maturation", headers=service, json={"stage": "review", "spec": "1. do x 2. do y"})
    approved = client.post(f"{url}/approve-spec", headers=admin)
    assert approved.json()["maturation_status"] == "building"

    comments = [c["body"] for c in client.get(f"{url}/comments", headers=admin).json()]
    assert comments == ["rejected the spec: also cover y", "approved the spec"]
    for stage in ("verifying", "done"):
        assert client.post(f"{url}/maturation", headers=service, json={"stage": stage}).status_code == 200
    finished = client.get(url, headers=admin).json()
    assert (finished["status"], finished["progress"]) == ("completed", 1.0)


def test_a_due_schedule_fires_once_and_moves_to_the_next_slot(
    client: TestClient, admin: dict[str, str], service: dict[str, str], run_sql: Any
) -> None:
    goal = create_goal(client, admin, schedule_cron="*/5 * * * *", max_completions=2, complex=False)
    # cortex was down for a day: many slots were missed
    run_sql("UPDATE goals SET schedule_next_at = now() - interval '1 day' WHERE id = $1::uuid", goal["id"])
    due = client.get("/api/v1/goals/due", headers=service).json()
    assert [g["id"] for g in due] == [goal["id"]]

    fired = client.post(f"/api/v1/goals/{goal['id']}/fire-schedule", headers=service)
    assert fired.status_code == 200
    assert datetime.fromisoformat(fired.json()["schedule_next_at"]) > datetime.now(UTC)
    assert fired.json()["completion_count"] == 1
    assert client.post(f"/api/v1/goals/{goal['id']}/fire-schedule", headers=service).status_code == 409
    assert client.get("/api/v1/goals/due", headers=service).json() == []

    run_sql("UPDATE goals SET schedule_next_at = now() - interval '1 minute' WHERE id = $1::uuid", goal["id"])
    last = client.post(f"/api/v1/goals/{goal['id']}/fire-schedule", headers=service).json()
    assert (last["status"], last["completion_count"], last["schedule_cron"]) == ("completed", 2, None)


def test_reflections_and_tasks_of_a_goal(
    client: TestClient, admin: dict[str, str], service: dict[str, str], run_sql: Any
) -> None:
    goal = create_goal(client, admin)
    url = f"/api/v1/goals/{goal['id']}"
    lesson = {"approach_fingerprint": "ab12cd34ef56ab78", "outcome": "failed", "lesson": "tests were missing"}
    assert client.post(f"{url}/reflections", headers=service, json=lesson).status_code == 201
    assert (
        client.post(
            f"{url}/reflections", headers=service, json={**lesson, "approach_fingerprint": "xyz"}
        ).status_code
        == 422
    )
    assert [r["lesson"] for r in client.get(f"{url}/reflections", headers=admin).json()] == [
        "tests were missing"
    ]

    run_sql(
        "INSERT INTO pipeline_tasks (goal, status, pod, goal_id) VALUES ('attempt 1', 'complete', '{}', $1::uuid)",
        goal["id"],
    )
    tasks = client.get(f"{url}/tasks", headers=admin).json()
    assert [(t["goal"], t["status"]) for t in tasks] == [("attempt 1", "complete")]


def test_trigger_needs_an_active_goal_and_tells_cortex(
    client: TestClient, admin: dict[str, str], stimuli: redis.Redis
) -> None:
    goal = create_goal(client, admin)
    url = f"/api/v1/goals/{goal['id']}"
    assert client.post(f"{url}/trigger", headers=admin).status_code == 202
    assert json.loads(stimuli.lindex(CORTEX_STIMULI_KEY, 0) or "{}")["type"] == "goal.triggered"
    client.patch(url, headers=admin, json={"status": "paused"})
    assert client.post(f"{url}/trigger", headers=admin).status_code == 409


def test_schedule_preview_describes_a_cron_and_refuses_a_bad_one(
    client: TestClient, admin: dict[str, str]
) -> None:
    preview = client.get("/api/v1/goals/schedule-preview", headers=admin, params={"cron": "0 9 * * 1"}).json()
    assert "Monday" in preview["description"]
    runs = [datetime.fromisoformat(r) for r in preview["next_runs"]]
    assert [(r.weekday(), r.hour) for r in runs] == [(0, 9)] * 3
    assert runs == sorted(runs) and runs[1] - runs[0] == timedelta(days=7)
    bad = client.get("/api/v1/goals/schedule-preview", headers=admin, params={"cron": "every monday"})
    assert bad.status_code == 400
    assert "cron" in bad.json()["detail"]
