"""A memory-service process killed with SIGKILL while it forms an item loses nothing: the item waits in
the processing list, and the next process re-queues and forms it (once)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
from fakes import FakeOpenAI, Reply
from test_formation import LISBON, TURN

from nova_common.embedded import free_port

HEADERS = {"X-Service-Token": "test-service-token-0123456789"}
PROCESSING_KEY = "nova:memory:ingest:processing"


@contextmanager
def memory_service(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "memory_service"],
            env={**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"memory-service exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"memory-service did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_worker_killed_with_sigkill_mid_ingestion_loses_nothing(
    nova_env: dict[str, str],
    database_url: str,
    redis_base_url: str,
    gateway_url: str,
    fake_model: FakeOpenAI,
    run_sql: Callable[..., list[Any]],
    wait_until: Any,
    tmp_path: Path,
) -> None:
    # The first extraction hangs long enough to kill the process in the middle of it.
    fake_model.script.push(Reply(content=LISBON.content, delay=60), LISBON)
    env = {
        **nova_env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_base_url,
        "LLM_GATEWAY_URL": gateway_url,
        "CONSOLIDATION_ENABLED": "false",
        "COMPACTION_ENABLED": "false",
    }
    queue = redis.Redis.from_url(redis_base_url, db=0, decode_responses=True)
    log_path = tmp_path / "memory-service.log"
    try:
        with memory_service(env, log_path) as (url, process):
            response = httpx.post(
                f"{url}/api/v1/memories/ingest",
                json={"content": TURN, "source": {"kind": "chat"}},
                headers=HEADERS,
            )
            assert response.status_code == 202, response.text
            item_id = response.json()["id"]
            wait_until(lambda: len(fake_model.script.requests) == 1 and queue.llen(PROCESSING_KEY) == 1)
            process.kill()
            process.wait(timeout=15)

        assert queue.llen(PROCESSING_KEY) == 1
        assert run_sql("SELECT item_id FROM ingestions") == []

        with memory_service(env, log_path) as (url, _):
            wait_until(lambda: run_sql("SELECT 1 FROM ingestions WHERE source_id IS NOT NULL"))
            depth = httpx.get(f"{url}/api/v1/memories/ingest/queue", headers=HEADERS).json()
            assert depth == {"queued": 0, "processing": 0, "dead_letters": 0}
        [formed] = run_sql("SELECT item_id::text FROM ingestions")
        assert formed["item_id"] == item_id
        facts = run_sql("SELECT content FROM memories WHERE key = 'lives_in'")
        assert [f["content"] for f in facts] == ["The user lives in Lisbon."]
    finally:
        queue.close()
