"""cortex across real processes: a deterministic fake model → llm-gateway → orchestrator (pipeline workers)
→ cortex. Goals are created through the orchestrator's API and cortex pursues them on its own; the clock of a
schedule is moved with SQL instead of waiting for it, and every wait polls an observable result."""

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from tests.fakes import serve_in_thread
from tests.fakes.pipeline_model import PipelineModel
from tests.stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from nova_common.embedded import EmbeddedRedis, free_port
from nova_common.redis import redis_url_for
from nova_common.testing import create_database

ADMIN = {"X-Admin-Secret": STACK_ADMIN_SECRET}
SERVICE = {"X-Service-Token": STACK_SERVICE_TOKEN}
CORTEX_ENV = {
    "CORTEX_ACTIVE_INTERVAL": "0.2",
    "CORTEX_IDLE_INTERVAL": "1",
    "CORTEX_TASK_POLL_INTERVAL": "0.5",
    "CORTEX_LEASE_SECONDS": "3",
    "CORTEX_DAILY_BUDGET_USD": "50",
}
FAST_PIPELINE = {
    "PIPELINE_HEARTBEAT_SECONDS": "0.3",
    "PIPELINE_REAPER_SECONDS": "0.3",
    "PIPELINE_STALE_SECONDS": "5",
    "PIPELINE_REQUEUE_AFTER_SECONDS": "0.5",
    "USAGE_BLOCK_MS": "200",
}


@dataclass
class Stack:
    model: PipelineModel
    orchestrator: ServiceProcess
    gateway: ServiceProcess
    database_url: str
    redis_url: str
    logs: Path

    def sql(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.database_url)
            try:
                return list(await conn.fetch(statement, *args))
            finally:
                await conn.close()

        return asyncio.run(run())

    def cortex(self, **env: str) -> ServiceProcess:
        return ServiceProcess(
            "cortex",
            {
                **CORTEX_ENV,
                "REDIS_URL": self.redis_url,
                "ORCHESTRATOR_URL": self.orchestrator.url,
                "LLM_GATEWAY_URL": self.gateway.url,
                "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # down: memory writes are skipped
                **env,
            },
            self.logs,
        ).start()


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, embedded_redis: EmbeddedRedis | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    redis_url = os.environ.get("NOVA_TEST_REDIS_URL") or (embedded_redis.url if embedded_redis else "")
    database_url = asyncio.run(create_database(postgres_admin_url, "cortex"))
    logs = tmp_path_factory.mktemp("cortex-stack")
    model = PipelineModel()
    with serve_in_thread(model.app) as upstream:
        gateway = ServiceProcess(
            "llm_gateway",
            {
                "REDIS_URL": redis_url,
                "OPENAI_API_KEY": "sk-test-openai-key-0123456789",
                "OPENAI_BASE_URL": f"{upstream.url}/v1",
                "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}",
                "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
                "INFERENCE_BACKEND": "none",
                "LLM_ROUTING_STRATEGY": "cloud-only",
            },
            logs,
        ).start(ready_within=180)
        try:
            env = orchestrator_env(database_url, redis_url, gateway_url=gateway.url, workspace=logs)
            orchestrator = ServiceProcess("orchestrator", {**env, **FAST_PIPELINE}, logs).start()
            try:
                # A short pod every goal is routed to: context, task, review on the fake model.
                response = httpx.post(
                    f"{orchestrator.url}/api/v1/pods",
                    headers=ADMIN,
                    json={
                        "name": "cortex-e2e",
                        "is_default": True,
                        "priority": 1000,
                        "default_model": "openai/gpt-4o-mini",
                        "agents": [
                            {"name": "context", "role": "context", "position": 1},
                            {"name": "task", "role": "task", "position": 2},
                            {"name": "code_review", "role": "code_review", "position": 3},
                        ],
                    },
                    timeout=10,
                )
                assert response.status_code == 201, response.text
                yield Stack(model, orchestrator, gateway, database_url, redis_url, logs)
            finally:
                orchestrator.stop()
        finally:
            model.release()
            gateway.stop()


@pytest.fixture
def nova(stack: Stack) -> Iterator[Stack]:
    """Each test starts from a quiet platform: a normal model, no active goals, no cortex state."""
    stack.model.behaviour.clear()
    stack.model._release.clear()
    _forget_cortex_state(stack)
    yield stack
    stack.model.release()
    stack.sql("UPDATE goals SET status = 'cancelled' WHERE status IN ('active', 'paused')")
    stack.sql("DELETE FROM usage_events WHERE provider = 'test-budget'")
    _forget_cortex_state(stack)


def _forget_cortex_state(stack: Stack) -> None:
    client = redis.Redis.from_url(redis_url_for("cortex", stack.redis_url), decode_responses=True)
    try:
        keys = list(client.scan_iter("nova:cortex:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def cortex_process(nova: Stack) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        process = nova.cortex(**env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _goal(stack: Stack, **fields: Any) -> dict[str, Any]:
    body = {"title": "Keep the changelog tidy", "complex": False, **fields}
    response = httpx.post(f"{stack.orchestrator.url}/api/v1/goals", json=body, headers=ADMIN, timeout=10)
    assert response.status_code == 201, response.text
    goal: dict[str, Any] = response.json()
    return goal


def _get(stack: Stack, path: str, **params: Any) -> Any:
    response = httpx.get(f"{stack.orchestrator.url}{path}", headers=ADMIN, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _iterations(stack: Stack, goal_id: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _get(stack, f"/api/v1/goals/{goal_id}/iterations")
    return result


def _tasks(stack: Stack, goal_id: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _get(stack, f"/api/v1/goals/{goal_id}/tasks")
    return result


def _journal(stack: Stack) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _get(stack, "/api/v1/journal", limit=200)["items"]
    return result


def _status(cortex: ServiceProcess) -> dict[str, Any]:
    response = httpx.get(f"{cortex.url}/api/v1/cortex/status", headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _make_due(stack: Stack, goal_id: str) -> None:
    stack.sql("UPDATE goals SET schedule_next_at = now() - interval '1 second' WHERE id = $1::uuid", goal_id)


def _succeeded(stack: Stack, goal_id: str, count: int) -> list[dict[str, Any]] | None:
    done = [i for i in _iterations(stack, goal_id) if i["outcome"] == "succeeded"]
    return done if len(done) >= count else None


def test_a_scheduled_goal_produces_a_pipeline_task_and_a_costed_iteration_each_time_it_is_due(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex_process()
    # Made due by the test alone: a schedule that also came due by the clock (every minute, say) could fire
    # a third time while the two runs are checked.
    goal = _goal(nova, schedule_cron="0 0 1 1 *")
    _make_due(nova, goal["id"])
    first = wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)
    _make_due(nova, goal["id"])
    done = wait_until(lambda: _succeeded(nova, goal["id"], 2), timeout=90)

    assert sorted(i["iteration"] for i in done) == [1, 2]
    assert all(i["cost_usd"] > 0 and i["duration_ms"] is not None for i in done)
    tasks = _tasks(nova, goal["id"])
    assert len(tasks) == 2 and {t["status"] for t in tasks} == {"complete"}
    assert {t["id"] for t in tasks} == {i["pipeline_task_id"] for i in done}
    assert first[0]["pipeline_task_id"] is not None
    fired = _get(nova, f"/api/v1/goals/{goal['id']}")
    assert fired["completion_count"] == 2
    assert fired["cost_usd"] == pytest.approx(sum(i["cost_usd"] for i in done))
    assert any(e["kind"] == "narration" and e["goal_id"] == goal["id"] for e in _journal(nova))


def test_a_complex_goal_walks_the_maturation_track_and_is_built_only_after_the_person_approves_its_spec(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex_process()
    goal = _goal(nova, title="Add dark mode to the dashboard", complex=True)

    in_review = wait_until(
        lambda: (g := _get(nova, f"/api/v1/goals/{goal['id']}"))["maturation_status"] == "review" and g,
        timeout=60,
    )
    assert in_review["spec"]
    assert _iterations(nova, goal["id"]) == []  # nothing is built before the spec is approved
    assert any(e["kind"] == "escalation" and e["goal_id"] == goal["id"] for e in _journal(nova))

    rejected = httpx.post(
        f"{nova.orchestrator.url}/api/v1/goals/{goal['id']}/reject-spec",
        json={"feedback": "Cover the charts too"},
        headers=ADMIN,
    )
    assert rejected.status_code == 200 and rejected.json()["maturation_status"] == "speccing"
    # cortex writes the spec again, with the feedback, and puts it back up for review.
    rewritten = wait_until(
        lambda: (g := _get(nova, f"/api/v1/goals/{goal['id']}"))["maturation_status"] == "review" and g,
        timeout=60,
    )
    assert rewritten["spec_feedback"] == "Cover the charts too"
    assert _iterations(nova, goal["id"]) == []

    approved = httpx.post(f"{nova.orchestrator.url}/api/v1/goals/{goal['id']}/approve-spec", headers=ADMIN)
    assert approved.status_code == 200, approved.text
    done = wait_until(
        lambda: (g := _get(nova, f"/api/v1/goals/{goal['id']}"))["status"] == "completed" and g, timeout=90
    )
    assert done["maturation_status"] == "done"
    assert [i["outcome"] for i in _iterations(nova, goal["id"])] == ["succeeded"]


def test_the_same_plan_failing_three_times_pauses_the_goal_with_an_escalation_in_the_journal(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    nova.model.behave("task", "invalid")  # every plan reads the same, and every task stage fails
    cortex_process()
    goal = _goal(nova, title="Migrate the database")

    paused = wait_until(
        lambda: (g := _get(nova, f"/api/v1/goals/{goal['id']}"))["status"] == "paused" and g, timeout=120
    )
    iterations = _iterations(nova, goal["id"])
    assert [i["outcome"] for i in iterations] == ["failed"] * 3
    reflections = _get(nova, f"/api/v1/goals/{goal['id']}/reflections")
    assert len({r["approach_fingerprint"] for r in reflections}) == 1
    escalations = [e for e in _journal(nova) if e["kind"] == "escalation" and e["goal_id"] == goal["id"]]
    assert escalations and "stuck" in escalations[0]["content"]
    assert paused["iteration_count"] == 3


def test_an_exhausted_budget_publishes_tier_none_and_stops_everything_but_maintenance(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    nova.sql(
        """INSERT INTO usage_events (id, provider, model, cost_usd, created_at)
           VALUES (gen_random_uuid(), 'test-budget', 'openai/gpt-4o', 60, now())"""
    )
    capped = _goal(nova, title="Capped goal", max_iterations=1)
    nova.sql("UPDATE goals SET iteration_count = 1 WHERE id = $1::uuid", capped["id"])
    cortex = cortex_process()
    waiting = _goal(nova, title="Write the weekly report")

    config = redis.Redis.from_url(redis_url_for("llm-gateway", nova.redis_url), decode_responses=True)
    try:
        wait_until(lambda: config.get("nova:config:cortex.budget_tier") == '"none"', timeout=30)
    finally:
        config.close()
    # Maintenance still acts: the goal at its iteration cap is completed.
    wait_until(lambda: _get(nova, f"/api/v1/goals/{capped['id']}")["status"] == "completed", timeout=30)
    after = _status(cortex)["cycle_count"]
    wait_until(lambda: _status(cortex)["cycle_count"] >= after + 3, timeout=30)
    assert _iterations(nova, waiting["id"]) == [] and _tasks(nova, waiting["id"]) == []
    budget = httpx.get(f"{cortex.url}/api/v1/cortex/budget", headers=SERVICE).json()
    assert budget["tier"] == "none" and budget["percent_used"] >= 100
    assert any(e["kind"] == "budget" for e in _journal(nova))

    nova.sql("DELETE FROM usage_events WHERE provider = 'test-budget'")
    wait_until(lambda: _succeeded(nova, waiting["id"], 1), timeout=90)


def test_cortex_killed_while_an_attempt_runs_resumes_it_without_a_second_iteration_or_task(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    nova.model.behave("context", "hang")  # the pipeline task stays running until released
    first = cortex_process()
    goal = _goal(nova, title="Refactor the parser")
    wait_until(lambda: any(a["task_id"] for a in _status(first)["in_flight"]), timeout=60)
    assert first.process is not None
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(10)

    cortex_process()  # a new process; the old one's lease lapses first
    nova.model.release()
    wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)

    assert len(_iterations(nova, goal["id"])) == 1
    assert len(_tasks(nova, goal["id"])) == 1


def test_an_attempt_recorded_before_a_crash_is_submitted_once_not_planned_again(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    # The state a cortex killed between recording an attempt and submitting it leaves behind.
    goal = _goal(nova, title="Rename the config keys")
    url = nova.orchestrator.url
    recorded = httpx.post(
        f"{url}/api/v1/goals/{goal['id']}/iterations",
        json={"iteration": 1, "plan": "rename them"},
        headers=SERVICE,
    )
    assert recorded.status_code == 201, recorded.text
    # ...and a second goal whose task was submitted just before the crash, its id never written back.
    other = _goal(nova, title="Prune old branches")
    httpx.post(
        f"{url}/api/v1/goals/{other['id']}/iterations",
        json={"iteration": 1, "plan": "prune"},
        headers=SERVICE,
    ).raise_for_status()
    submitted = httpx.post(
        f"{url}/api/v1/pipeline/tasks",
        json={"goal": "prune", "goal_id": other["id"], "metadata": {"source": "cortex", "iteration": 1}},
        headers=SERVICE,
    )
    assert submitted.status_code == 202, submitted.text

    cortex_process()
    wait_until(lambda: _succeeded(nova, goal["id"], 1) and _succeeded(nova, other["id"], 1), timeout=90)

    for goal_id in (goal["id"], other["id"]):
        assert [i["iteration"] for i in _iterations(nova, goal_id)] == [1]
        assert len(_tasks(nova, goal_id)) == 1
    assert _iterations(nova, other["id"])[0]["pipeline_task_id"] == submitted.json()["id"]


def test_a_paused_cortex_dispatches_nothing_from_the_next_cycle_on_and_resumes_on_request(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex = cortex_process()
    paused = httpx.post(f"{cortex.url}/api/v1/cortex/pause", headers=ADMIN)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    goal = _goal(nova, title="Tidy the README")
    start = _status(cortex)["cycle_count"]
    wait_until(lambda: _status(cortex)["cycle_count"] >= start + 3, timeout=30)
    assert _iterations(nova, goal["id"]) == [] and _tasks(nova, goal["id"]) == []

    resumed = httpx.post(f"{cortex.url}/api/v1/cortex/resume", headers=ADMIN)
    assert resumed.json()["status"] == "running"
    wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)


def test_of_two_cortex_processes_only_the_lease_holder_acts_and_the_other_takes_over_when_it_dies(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    one, two = cortex_process(), cortex_process()
    acting = wait_until(
        lambda: [c for c in (one, two) if _status(c)["acting"]] if _status(one)["cycle_count"] > 0 else None,
        timeout=30,
    )
    assert len(acting) == 1
    goal = _goal(nova, title="Check the backups")
    wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)
    assert len(_tasks(nova, goal["id"])) == 1

    holder = acting[0]
    other = two if holder is one else one
    holder.stop()
    wait_until(lambda: _status(other)["acting"], timeout=30)


def test_what_the_person_writes_in_the_journal_wakes_cortex_and_is_acknowledged(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex_process()
    written = httpx.post(
        f"{nova.orchestrator.url}/api/v1/journal/messages",
        json={"content": "Focus on tests this week"},
        headers=ADMIN,
    )
    assert written.status_code == 201 and written.json()["role"] == "user"
    wait_until(
        lambda: any(
            "Focus on tests this week" in e["content"] for e in _journal(nova) if e["role"] == "assistant"
        ),
        timeout=30,
    )
    titles = _get(nova, "/api/v1/conversations")
    assert any(c.get("title") == "Journal" for c in (titles if isinstance(titles, list) else titles["items"]))


def test_a_schedule_that_fell_due_many_times_while_cortex_was_down_runs_once(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    # A yearly schedule whose last three slots passed while cortex was down: its next slot, after the one run,
    # cannot come due during the test, as a minute's could.
    goal = _goal(nova, title="Yearly review", schedule_cron="0 0 1 1 *")
    nova.sql("UPDATE goals SET schedule_next_at = now() - interval '3 years' WHERE id = $1::uuid", goal["id"])
    cortex = cortex_process()
    wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)
    after = _status(cortex)["cycle_count"]
    wait_until(lambda: _status(cortex)["cycle_count"] >= after + 3, timeout=30)

    assert len(_iterations(nova, goal["id"])) == 1
    fired = _get(nova, f"/api/v1/goals/{goal['id']}")
    assert fired["completion_count"] == 1


def test_a_goal_that_used_its_attempts_is_completed_and_one_that_spent_its_cap_is_paused(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex_process()
    one_shot = _goal(nova, title="Say hello once", max_iterations=1)
    thrifty = _goal(nova, title="Spend almost nothing", max_cost_usd=0.000001)

    done = wait_until(
        lambda: (g := _get(nova, f"/api/v1/goals/{one_shot['id']}"))["status"] == "completed" and g
    )
    assert done["progress"] == 1 and done["iteration_count"] == 1
    paused = wait_until(
        lambda: (g := _get(nova, f"/api/v1/goals/{thrifty['id']}"))["status"] == "paused" and g
    )
    assert paused["cost_usd"] >= 0.000001 and paused["iteration_count"] == 1
    narrated = [e["content"] for e in _journal(nova) if e["goal_id"] in (one_shot["id"], thrifty["id"])]
    assert any("marked completed" in text for text in narrated)
    assert any("cost cap" in text for text in narrated)


def test_run_now_works_on_a_goal_checked_a_moment_ago_and_the_drives_show_why(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex = cortex_process()
    goal = _goal(nova, title="Summarise the inbox")
    wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)  # checked now: not due for an hour

    triggered = httpx.post(f"{cortex.url}/api/v1/cortex/trigger/{goal['id']}", headers=ADMIN)
    assert triggered.status_code == 202, triggered.text
    wait_until(lambda: _succeeded(nova, goal["id"], 2), timeout=90)
    drives = httpx.get(f"{cortex.url}/api/v1/cortex/drives", headers=ADMIN).json()
    assert {d["drive"] for d in drives} == {"serve", "maintain", "improve", "reflect", "learn"}

    missing = httpx.post(
        f"{cortex.url}/api/v1/cortex/trigger/00000000-0000-4000-8000-000000000000", headers=ADMIN
    )
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    httpx.patch(
        f"{nova.orchestrator.url}/api/v1/goals/{goal['id']}", json={"status": "paused"}, headers=ADMIN
    )
    refused = httpx.post(f"{cortex.url}/api/v1/cortex/trigger/{goal['id']}", headers=ADMIN)
    assert refused.status_code == 409 and "paused" in refused.json()["detail"]


def test_a_goal_of_unknown_complexity_is_triaged_and_a_simple_one_is_worked_on_without_a_spec(
    nova: Stack, cortex_process: Callable[..., ServiceProcess], wait_until: Callable[..., Any]
) -> None:
    cortex_process()
    goal = _goal(nova, title="Fix the typo in the footer", complex=None)
    assert goal["maturation_status"] == "triage"

    wait_until(lambda: _succeeded(nova, goal["id"], 1), timeout=90)
    triaged = _get(nova, f"/api/v1/goals/{goal['id']}")
    assert triaged["maturation_status"] is None and triaged["spec"] is None
    assert any(e["kind"] == "maturation" and "simple" in e["content"] for e in _journal(nova))
