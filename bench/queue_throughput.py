"""Pipeline queue throughput: no-op-stage tasks through real orchestrator processes, Postgres state included.

One run starts an embedded PostgreSQL and Redis, an API-only orchestrator (PIPELINE_WORKERS_ENABLED=false)
that takes the submissions, then one and then two worker processes. Each task's single stage is a
`passthrough` agent (no model call), so what is measured is the queue, the state machine and the Postgres
bookkeeping: submitted/s (HTTP POSTs, concurrency 32), completed/s (first claim to last completion, from
the tasks' own timestamps), pickup latency p50/p95 (queued_at → started_at with idle workers), next to the
raw Redis LPUSH and BRPOP rates and the raw PostgreSQL commit latency measured in the same run. queued_at is
stamped inside the submission's transaction, so pickup includes that commit's WAL flush.

    uv run python bench/queue_throughput.py [--tasks 2000] [--concurrency 32] [--worker-concurrency 256]

Anchors (the queue libraries' published no-op benchmarks): SAQ ≈ 2,000-2,500 no-op jobs/s per worker, arq ≈ 200-320,
pickup < 5 ms; none of them keeps durable state in Postgres. Target: ≥ 1,000 tasks/s with one worker and
pickup p50 < 5 ms.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

ADMIN = "bench-admin-secret-0123456789abcdef"
HEADERS = {"X-Admin-Secret": ADMIN}
LAUNCH = (
    "from nova_common.server import serve; from orchestrator.config import get_settings; "
    "serve('orchestrator.main:create_app', get_settings())"
)


def start_orchestrator(
    pg_url: str,
    redis_url: str,
    workdir: Path,
    *,
    workers: bool,
    concurrency: int,
    worker_concurrency: int | None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ, "PORT": str(port), "HOST": "127.0.0.1", "DATABASE_URL": pg_url, "REDIS_URL": redis_url,
        "NOVA_ADMIN_SECRET": ADMIN, "NOVA_SERVICE_TOKEN": "bench-service-token-0123456789", "REQUIRE_AUTH": "true",
        "LLM_GATEWAY_URL": f"http://127.0.0.1:{free_port()}", "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "NOVA_WORKSPACE": str(workdir), "LOG_LEVEL": "warning", "DATABASE_POOL_MAX": str(concurrency + 8),
        "PIPELINE_WORKERS_ENABLED": str(workers).lower(),
    }  # fmt: skip
    if worker_concurrency is not None:
        env["PIPELINE_WORKER_CONCURRENCY"] = str(worker_concurrency)
    log = (workdir / f"orchestrator-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/pods", headers=HEADERS, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"orchestrator did not start; see {log.name}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


async def submit_all(url: str, pod_id: str, n: int, concurrency: int) -> float:
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=60) as client:
        counter = iter(range(n))

        async def one_client() -> None:
            for i in counter:
                response = await client.post(
                    "/api/v1/pipeline/tasks", json={"goal": f"t{i}", "pod_id": pod_id}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        return n / (time.perf_counter() - started)


async def wait_complete(pg_url: str, total: int) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        while await conn.fetchval("SELECT count(*) FROM pipeline_tasks WHERE status = 'complete'") < total:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def completion_rate(pg_url: str, since_total: int) -> float:
    conn = await asyncpg.connect(pg_url)
    try:
        row = await conn.fetchrow(
            """SELECT count(*) AS n, EXTRACT(EPOCH FROM max(completed_at) - min(started_at))::float8 AS span
               FROM (SELECT * FROM pipeline_tasks ORDER BY created_at OFFSET $1) t""",
            since_total,
        )
        assert row is not None
        return float(row["n"]) / float(row["span"])
    finally:
        await conn.close()


async def pickup_latency(url: str, pg_url: str, pod_id: str, n: int) -> tuple[float, float]:
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as client:
        ids = []
        for i in range(n):
            response = await client.post("/api/v1/pipeline/tasks", json={"goal": f"p{i}", "pod_id": pod_id})
            ids.append(response.json()["id"])
            await asyncio.sleep(0.01)
    conn = await asyncpg.connect(pg_url)
    try:
        unclaimed = "SELECT count(*) FROM pipeline_tasks WHERE id = ANY($1::uuid[]) AND started_at IS NULL"
        while await conn.fetchval(unclaimed, ids):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        rows = await conn.fetch(
            "SELECT EXTRACT(EPOCH FROM started_at - queued_at)::float8 * 1000 AS ms FROM pipeline_tasks WHERE id = ANY($1::uuid[])",
            ids,
        )
    finally:
        await conn.close()
    latencies = sorted(r["ms"] for r in rows)
    return statistics.median(latencies), latencies[int(len(latencies) * 0.95) - 1]


async def raw_postgres_commit(pg_url: str, n: int) -> float:
    """p50 of one single-row INSERT committed on its own (the WAL flush every durable enqueue waits for)."""
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, at timestamptz)"
        )
        latencies = []
        for _ in range(n):
            started = time.perf_counter()
            await conn.execute("INSERT INTO bench_commit (at) VALUES (clock_timestamp())")
            latencies.append((time.perf_counter() - started) * 1000)
        await conn.execute("DROP TABLE bench_commit")
        return statistics.median(latencies)
    finally:
        await conn.close()


async def raw_redis(redis_url: str, n: int) -> tuple[float, float]:
    client = aioredis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/15")
    try:
        await client.delete("bench:raw")
        started = time.perf_counter()
        for i in range(n):
            await client.lpush("bench:raw", i)
        push_rate = n / (time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(n):
            await client.brpop(["bench:raw"], timeout=1)
        pop_rate = n / (time.perf_counter() - started)
        return push_rate, pop_rate
    finally:
        await client.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP clients submitting")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=256,
        help="PIPELINE_WORKER_CONCURRENCY of the workers (the setting's default, 32, suits real model calls; "
        "tasks that do no work show the queue's own rate only with more in flight)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nova-queue-bench-"))
    pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port())
    redis_server = EmbeddedRedis(data_dir=workdir / "redis", port=free_port())
    pg.start()
    redis_server.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        push_rate, pop_rate = await raw_redis(redis_server.url, args.tasks)
        print(f"raw Redis (one client, sequential): LPUSH {push_rate:,.0f}/s  BRPOP {pop_rate:,.0f}/s")
        commit_ms = await raw_postgres_commit(pg.url, 200)
        print(f"raw PostgreSQL (one client, sequential): single-row INSERT + commit p50 {commit_ms:.1f} ms")
        api, api_url = start_orchestrator(
            pg.url,
            redis_server.url,
            workdir,
            workers=False,
            concurrency=args.concurrency,
            worker_concurrency=None,
        )
        processes.append(api)
        noop_pod = {"name": "bench-noop", "agents": [{"name": "noop", "role": "passthrough"}]}
        pod = httpx.post(f"{api_url}/api/v1/pods", headers=HEADERS, json=noop_pod).json()  # noqa: ASYNC210
        done = 0
        for worker_count in (1, 2):
            submitted = await submit_all(api_url, pod["id"], args.tasks, args.concurrency)
            workers = [
                start_orchestrator(
                    pg.url,
                    redis_server.url,
                    workdir,
                    workers=True,
                    concurrency=args.concurrency,
                    worker_concurrency=args.worker_concurrency,
                )[0]
                for _ in range(worker_count)
            ]
            processes.extend(workers)
            await wait_complete(pg.url, done + args.tasks)
            completed = await completion_rate(pg.url, done)
            done += args.tasks
            p50, p95 = await pickup_latency(api_url, pg.url, pod["id"], 200)
            done += 200
            concurrency = args.worker_concurrency or "default"
            print(
                f"{worker_count} worker process(es), worker concurrency {concurrency}: submitted {submitted:,.0f}/s "
                f"(HTTP, {args.concurrency} clients)  completed {completed:,.0f}/s  pickup p50 {p50:.1f} ms  p95 {p95:.1f} ms"
            )
            for worker in workers:
                stop(worker)
    finally:
        for process in processes:
            if process.poll() is None:
                stop(process)
        redis_server.stop()
        pg.destroy()


if __name__ == "__main__":
    asyncio.run(main())
