"""A worker process killed with SIGKILL mid-stage: another process resumes the task from its checkpoint."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nova_common.embedded import EmbeddedRedis, free_port

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_support import ADMIN, FAST_LOOPS, llm_gateway, wait_for
from tests.fakes import serve_in_thread
from tests.fakes.pipeline_model import PipelineModel
from tests.stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN

LAUNCH = (
    "from nova_common.server import serve; from orchestrator.config import get_settings; "
    "serve('orchestrator.main:create_app', get_settings())"
)
HEADERS = {"X-Admin-Secret": STACK_ADMIN_SECRET}


@pytest.fixture
def model() -> Iterator[PipelineModel]:
    fake = PipelineModel()
    with serve_in_thread(fake.app) as live:
        fake.url = live.url  # type: ignore[attr-defined]
        yield fake
        fake.release()


@pytest.fixture
def gateway_url(model: PipelineModel, embedded_redis: EmbeddedRedis | None, tmp_path: Path) -> Iterator[str]:
    assert embedded_redis is not None
    with llm_gateway(model.url, embedded_redis.url, tmp_path) as url:  # type: ignore[attr-defined]
        yield url


@pytest.fixture
def start_orchestrator(
    database_url: str, redis_base_url: str, gateway_url: str, tmp_path: Path
) -> Iterator[Callable[[], tuple[subprocess.Popen[bytes], str]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        env = {
            **os.environ, **FAST_LOOPS, "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url, "LLM_GATEWAY_URL": gateway_url, "REQUIRE_AUTH": "true",
            "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}", "NOVA_ADMIN_SECRET": STACK_ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": STACK_SERVICE_TOKEN, "NOVA_WORKSPACE": str(tmp_path), "LOG_FORMAT": "console",
        }  # fmt: skip
        log = (tmp_path / f"orchestrator-{port}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/api/v1/pods", headers=HEADERS, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=90, what="orchestrator ready")
        return process, url

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_worker_killed_mid_stage_is_resumed_by_another_from_its_checkpoint_without_duplicates(
    start_orchestrator: Callable[[], tuple[subprocess.Popen[bytes], str]], model: PipelineModel,
    run_sql: Callable[..., Any],
) -> None:  # fmt: skip
    first, url = start_orchestrator()
    pod = httpx.post(
        f"{url}/api/v1/pods", headers=HEADERS, timeout=10,
        json={"name": "crash", "default_model": "openai/gpt-4o-mini", "agents": [
            {"name": "context", "role": "context", "position": 1}, {"name": "task", "role": "task", "position": 2},
            {"name": "code_review", "role": "code_review", "position": 3}]},
    ).json()  # fmt: skip
    model.behave("task", "hang")
    task = httpx.post(
        f"{url}/api/v1/pipeline/tasks", headers=HEADERS, json={"goal": "add", "pod_id": pod["id"]}
    ).json()

    def status() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(
            f"{url}/api/v1/pipeline/tasks/{task['id']}", headers=HEADERS, timeout=5
        ).json()
        return body

    wait_for(
        lambda: model.started["task"] == 1 and status()["status"] == "task_running", what="task stage running"
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    model.behave("task", "valid")
    model.release()

    _, url = start_orchestrator()
    done = wait_for(lambda: (s := status())["status"] in ("complete", "failed") and s, timeout=120)
    assert done["status"] == "complete" and done["attempts"] == 2 and done["retries"] == 1
    # The context stage was checkpointed before the kill and is not run again.
    assert model.calls["context"] == 1
    timeline = httpx.get(f"{url}/api/v1/pipeline/tasks/{task['id']}/timeline", headers=HEADERS).json()
    moves = [(e["from_status"], e["to_status"]) for e in timeline if e["kind"] == "transition"]
    assert ("task_running", "queued") in moves and moves.count(("queued", "task_running")) == 1
    assert moves.count(("completing", "complete")) == 1
    assert run_sql("SELECT count(*) AS n FROM pipeline_artifacts WHERE task_id = $1", task["id"])[0]["n"] == 1
    wait_for(lambda: run_sql("SELECT count(*) AS n FROM usage_events WHERE task_id = $1 AND agent_id = 'pipeline:code_review'", task["id"])[0]["n"] == 1)  # fmt: skip

    # The context stage's usage record may have been read by the killed process and never acknowledged:
    # the survivor claims such entries once they are idle for a minute (usage/consumer.py).
    def usage_by_agent() -> dict[str, int]:
        rows = run_sql(
            "SELECT agent_id, count(*) AS n FROM usage_events WHERE task_id = $1 GROUP BY 1", task["id"]
        )
        return {r["agent_id"]: r["n"] for r in rows}

    wait_for(lambda: "pipeline:context" in usage_by_agent(), timeout=150, what="context usage persisted")
    assert usage_by_agent()["pipeline:context"] == 1


_ = (time, ADMIN)
