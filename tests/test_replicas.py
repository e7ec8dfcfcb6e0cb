"""What must hold when services run as several replicas, proven with several real processes on this machine.

llm-gateway: three processes sharing one Redis admit exactly an API key's requests per minute and exactly a
provider's daily quota between them, however the requests are spread (the windows live in Redis, DB 1).

chat-api: a client that reconnects to another replica (two processes sharing Redis) resumes its session, and
the next turn reaches the model with the earlier exchange.

The pipeline: two API-only orchestrators (PIPELINE_WORKERS_ENABLED=false, as the production overlay's
`orchestrator` Deployment) take submissions, three worker processes (its `orchestrator-worker`) share one Redis
queue and one PostgreSQL, and one worker is killed with SIGKILL while it holds a task. Every task must complete
once: none lost, none completed twice, no stage's result recorded twice. Each task's one stage is a model call
through a real llm-gateway to the loopback fake model, so tasks are in flight long enough to be caught mid-run.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import websockets
from tests.fakes import FakeOpenAI, Reply, serve_in_thread
from tests.fakes.pipeline_model import PipelineModel
from tests.stack import STACK_ADMIN_SECRET, STACK_SERVICE_TOKEN, ServiceProcess, orchestrator_env

from nova_common.embedded import free_port
from nova_contracts.llm import UsageRecord

HEADERS = {"X-Admin-Secret": STACK_ADMIN_SECRET}
TASKS = 2_000
# The reaper's clocks shortened (as orchestrator/tests/test_pipeline_support.py does) so a dead worker's
# tasks are queued again within seconds instead of minutes.
FAST_LOOPS = {
    "PIPELINE_HEARTBEAT_SECONDS": "0.3",
    "PIPELINE_REAPER_SECONDS": "0.3",
    "PIPELINE_STALE_SECONDS": "2",
    "PIPELINE_REQUEUE_AFTER_SECONDS": "0.5",
}
LAUNCH = (
    "from nova_common.server import serve; from orchestrator.config import get_settings; "
    "serve('orchestrator.main:create_app', get_settings())"
)


@pytest.fixture
def gateway_url(redis_base_url: str, tmp_path: Path) -> Iterator[str]:
    model = PipelineModel()
    with serve_in_thread(model.app) as live:
        env = {
            "REDIS_URL": redis_base_url,
            "OPENAI_API_KEY": "sk-test-openai-key-0123456789",
            "OPENAI_BASE_URL": f"{live.url}/v1",
            "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}",
            "REQUIRE_AUTH": "false",
        }
        gateway = ServiceProcess("llm_gateway", env, tmp_path).start()
        try:
            yield gateway.url
        finally:
            gateway.stop()


@pytest.fixture
def start_orchestrator(
    database_url: str,
    redis_base_url: str,
    gateway_url: str,
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> Iterator[Callable[[bool], tuple[subprocess.Popen[bytes], str]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(workers: bool) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        env = {
            **os.environ, **FAST_LOOPS, "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": database_url,
            "REDIS_URL": redis_base_url, "LLM_GATEWAY_URL": gateway_url, "REQUIRE_AUTH": "true",
            "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}", "NOVA_ADMIN_SECRET": STACK_ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": STACK_SERVICE_TOKEN, "NOVA_WORKSPACE": str(tmp_path), "LOG_FORMAT": "console",
            "PIPELINE_WORKERS_ENABLED": str(workers).lower(), "PIPELINE_WORKER_CONCURRENCY": "8",
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

        wait_until(ready, timeout=120)
        return process, url

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


async def submit(urls: list[str], pod_id: str, count: int) -> list[str]:
    """`count` tasks, spread over the API processes as a Service would spread them."""
    clients = [httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=60) for url in urls]
    try:
        semaphore = asyncio.Semaphore(16)

        async def one(i: int) -> str:
            async with semaphore:
                response = await clients[i % len(clients)].post(
                    "/api/v1/pipeline/tasks", json={"goal": f"replica task {i}", "pod_id": pod_id}
                )
                response.raise_for_status()
                return str(response.json()["id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.timeout(900)
def test_two_api_and_three_worker_processes_complete_every_task_once_when_a_worker_is_killed(
    start_orchestrator: Callable[[bool], tuple[subprocess.Popen[bytes], str]],
    run_sql: Callable[..., list[Any]],
    wait_until: Callable[..., Any],
) -> None:
    apis = [start_orchestrator(False)[1] for _ in range(2)]
    victim, *_ = [start_orchestrator(True)[0] for _ in range(3)]
    pod = httpx.post(
        f"{apis[0]}/api/v1/pods", headers=HEADERS, timeout=10,
        json={"name": "replicas", "default_model": "openai/gpt-4o-mini",
              "agents": [{"name": "task", "role": "task", "position": 1}]},
    ).json()  # fmt: skip
    # Submitted in the background so the victim is killed early, while most tasks are still to come: killed
    # after the last submission, it could finish its last task between the check and the kill.
    with ThreadPoolExecutor(1) as pool:
        submitted = pool.submit(asyncio.run, submit(apis, pod["id"], TASKS))
        # The worker id carries its process id (pipeline/worker.py): kill the victim while it holds a task.
        holding = f"%-{victim.pid}-%"
        wait_until(
            lambda: run_sql(
                "SELECT 1 FROM pipeline_tasks WHERE worker_id LIKE $1 AND status LIKE '%running'", holding
            ),
            timeout=120,
            interval=0.02,
        )
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        orphans = {
            r["id"]
            for r in run_sql(
                "SELECT id FROM pipeline_tasks WHERE worker_id LIKE $1 AND status LIKE '%running'", holding
            )
        }
        task_ids = submitted.result()
    assert len(set(task_ids)) == TASKS
    assert orphans, "the killed worker held no running task"

    def finished() -> bool:
        rows = run_sql("SELECT count(*) AS n FROM pipeline_tasks WHERE status IN ('complete', 'failed')")
        return bool(rows[0]["n"] == TASKS)

    wait_until(finished, timeout=780, interval=0.5)
    statuses = run_sql("SELECT status, count(*) AS n FROM pipeline_tasks GROUP BY 1")
    assert {r["status"]: r["n"] for r in statuses} == {"complete": TASKS}
    # Every task the killed worker held was claimed again, yet completed once with its stage recorded once.
    retaken = run_sql(
        "SELECT id FROM pipeline_tasks WHERE id = ANY($1::uuid[]) AND attempts >= 2", list(orphans)
    )
    assert {r["id"] for r in retaken} == orphans
    per_task = run_sql(
        """SELECT t.id,
                  count(*) FILTER (WHERE e.kind = 'transition' AND e.to_status = 'complete') AS completions,
                  count(*) FILTER (WHERE e.kind = 'stage_completed') AS stages
           FROM pipeline_tasks t LEFT JOIN pipeline_task_events e ON e.task_id = t.id GROUP BY t.id"""
    )
    assert len(per_task) == TASKS
    assert [r for r in per_task if r["completions"] != 1 or r["stages"] != 1] == []


def _spread(urls: list[str], path: str, count: int, **request: Any) -> list[int]:
    """`count` concurrent requests to `path`, round-robin over `urls` (a Service's spread); their statuses."""

    async def go() -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            responses = await asyncio.gather(
                *(client.request(url=f"{urls[i % len(urls)]}{path}", **request) for i in range(count))
            )
        return [r.status_code for r in responses]

    return asyncio.run(go())


@pytest.mark.timeout(300)
def test_three_gateway_processes_admit_exactly_the_key_rate_limit_and_the_provider_quota(
    database_url: str, redis_base_url: str, tmp_path: Path
) -> None:
    model = FakeOpenAI(models=["gpt-4o-mini"])
    with serve_in_thread(model.app) as upstream:
        gateway_env = {
            "REDIS_URL": redis_base_url, "OPENAI_API_KEY": "sk-test-openai-key-0123456789",
            "OPENAI_BASE_URL": f"{upstream.url}/v1", "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
            "INFERENCE_BACKEND": "none", "LLM_ROUTING_STRATEGY": "cloud-only",
            "PROVIDER_DAILY_QUOTAS": '{"openai": 7}', "REQUIRE_AUTH": "true",
        }  # fmt: skip
        gateways = [ServiceProcess("llm_gateway", gateway_env, tmp_path) for _ in range(3)]
        env = orchestrator_env(database_url, redis_base_url, gateway_url=gateways[0].url, workspace=tmp_path)
        # The gateways check sk-nova keys with the orchestrator, which owns them.
        orchestrator = ServiceProcess("orchestrator", env, tmp_path).start()
        try:
            for gateway in gateways:
                gateway.env["ORCHESTRATOR_URL"] = orchestrator.url
                gateway.start(ready_within=180)
            urls = [g.url for g in gateways]
            key = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                headers=HEADERS,
                json={"name": "replicas", "rate_limit_rpm": 20},
            ).json()["key"]

            statuses = _spread(urls, "/v1/models", 60, method="GET", headers={"X-API-Key": key})
            assert sorted(statuses) == [200] * 20 + [429] * 40

            completions = _spread(
                urls, "/complete", 21, method="POST", headers={"X-Service-Token": STACK_SERVICE_TOKEN},
                json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            )  # fmt: skip
            assert sorted(completions) == [200] * 7 + [429] * 14
            assert len(model.script.requests) == 7
        finally:
            for gateway in gateways:
                gateway.stop()
            orchestrator.stop()


async def _answer(ws: websockets.ClientConnection) -> str:
    chunks = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if frame["type"] == "error":
            raise AssertionError(frame)
        if frame["type"] == "stream_chunk":
            chunks.append(frame.get("delta", ""))
        if frame["type"] == "stream_end":
            return "".join(chunks)


@pytest.mark.timeout(300)
async def test_a_chat_session_resumes_on_another_chat_api_replica(
    database_url: str, redis_base_url: str, tmp_path: Path
) -> None:
    model = FakeOpenAI(models=["gpt-4o-mini"])
    model.script.default = Reply(content="Hello Ada.")
    processes: list[ServiceProcess] = []
    with serve_in_thread(model.app) as upstream:
        try:
            gateway_env = {
                "REDIS_URL": redis_base_url, "OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": f"{upstream.url}/v1",
                "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini", "RESPONSE_CACHE_TTL": "0",
            }  # fmt: skip
            gateway = ServiceProcess("llm_gateway", gateway_env, tmp_path).start(ready_within=180)
            processes.append(gateway)
            env = orchestrator_env(database_url, redis_base_url, gateway_url=gateway.url, workspace=tmp_path)
            orchestrator = ServiceProcess("orchestrator", env, tmp_path).start()
            processes.append(orchestrator)
            chat_env = {
                "REDIS_URL": redis_base_url,
                "ORCHESTRATOR_URL": orchestrator.url,
                "REQUIRE_AUTH": "true",
            }
            replicas = [ServiceProcess("chat_api", chat_env, tmp_path).start() for _ in range(2)]
            processes += replicas
            created = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                headers=HEADERS,
                json={"name": "chat", "rate_limit_rpm": 10_000},
            ).json()
            key = created["key"]
            # No memory-service here: the sessions' agent recalls none (as tests/test_chat_stack.py sets it).
            agent = httpx.post(
                f"{orchestrator.url}/api/v1/agents",
                headers={"X-API-Key": key},
                json={"config": {"name": "Nova", "memory_tiers": []}},
            ).json()
            chat_redis = redis.Redis.from_url(f"{redis_base_url.rsplit('/', 1)[0]}/3")
            chat_redis.set(f"nova:chat:agent_id:key:{created['id']}", agent["id"])
            chat_redis.close()

            first_url, second_url = (f"ws://127.0.0.1:{r.port}/ws/chat?token={key}" for r in replicas)
            async with websockets.connect(first_url) as ws:
                session_id = json.loads(await ws.recv())["session_id"]
                await ws.send(json.dumps({"type": "user", "content": "my name is Ada"}))
                first = await _answer(ws)
            replicas[0].stop()  # the replica the client used is gone, as after a rollout or a node loss
            async with websockets.connect(f"{second_url}&session_id={session_id}") as ws:
                resumed = json.loads(await ws.recv())["session_id"]
                await ws.send(json.dumps({"type": "user", "content": "what is my name?"}))
                second = await _answer(ws)
        finally:
            for process in reversed(processes):
                process.stop()

    assert (first, second, resumed) == ("Hello Ada.", "Hello Ada.", session_id)
    prompts = [[m.get("content") for m in r["messages"]] for r in model.script.requests]
    assert any("my name is Ada" in p and "what is my name?" in p and "Hello Ada." in p for p in prompts), (
        prompts
    )


@pytest.mark.timeout(300)
def test_two_orchestrators_persist_every_usage_record_once_between_them(
    database_url: str, redis_base_url: str, tmp_path: Path, run_sql: Callable[..., list[Any]],
    wait_until: Callable[..., Any],
) -> None:  # fmt: skip
    """The usage stream's consumer runs in every orchestrator replica: the consumer group hands each record to
    one of them, so the gateway's records land in `usage_events` once, whichever replica reads them."""
    # No gateway is needed to consume what a gateway wrote.
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = orchestrator_env(database_url, redis_base_url, gateway_url=nowhere, workspace=tmp_path)
    replicas = [ServiceProcess("orchestrator", {**env, "USAGE_BLOCK_MS": "50"}, tmp_path) for _ in range(2)]
    db1 = redis.Redis.from_url(f"{redis_base_url.rsplit('/', 1)[0]}/1", decode_responses=True)
    try:
        for replica in replicas:
            replica.start()
        records = [
            UsageRecord(provider="openai", model="gpt-4o-mini", input_tokens=i, output_tokens=1, latency_ms=5)
            for i in range(600)
        ]
        # In bursts, as a busy gateway writes them, so both replicas are reading while records arrive.
        for start in range(0, len(records), 50):
            pipe = db1.pipeline()
            for record in records[start : start + 50]:
                pipe.xadd("nova:usage:events", {"record": record.model_dump_json()})
            pipe.execute()

        def persisted() -> int:
            return int(run_sql("SELECT count(*) AS n FROM usage_events")[0]["n"])

        wait_until(lambda: persisted() >= len(records), timeout=120)
        rows = run_sql("SELECT id FROM usage_events")
        assert sorted(str(r["id"]) for r in rows) == sorted(str(r.id) for r in records)
        consumers = db1.xinfo_consumers("nova:usage:events", "orchestrator-usage")
        assert len(consumers) == 2, consumers
        assert db1.xpending("nova:usage:events", "orchestrator-usage")["pending"] == 0
    finally:
        db1.close()
        for replica in replicas:
            replica.stop()
