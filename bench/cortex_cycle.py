"""cortex's cycle with 1,000 active goals: cycle latency, and CPU per idle hour.

One run starts an embedded PostgreSQL and Redis, an orchestrator without pipeline workers, and one cortex
process with its default intervals. It inserts 1,000 active goals that need no work now (half on a weekly
schedule, half checked a moment ago), then:

- cycle latency: a stimulus is pushed and the time until cortex's cycle count moves is taken, one cycle at a
  time (the wake, spend, due schedules, the journal and the 1,000 goals read in pages of 200, the drives);
- CPU: the cortex process's user + system time (from /proc) over the cycles above gives CPU per cycle; over a
  quiet window (default 60 s) it gives the idle baseline (lease renewals, its blocked wait). An idle hour is
  the baseline for an hour plus one cycle per CORTEX_IDLE_INTERVAL (300 s by default, the longest wait).

    uv run python bench/cortex_cycle.py [--goals 1000] [--cycles 30] [--idle-seconds 60]

Target: an idle cortex uses under 1 % of one core (36 CPU seconds an hour).
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import redis.asyncio as aioredis

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from nova_common.redis import redis_url_for

ADMIN = "bench-admin-secret-0123456789abcdef"
TOKEN = "bench-service-token-0123456789"
HEADERS = {"X-Admin-Secret": ADMIN}
STIMULI_KEY = "nova:cortex:stimuli"
IDLE_INTERVAL = 300.0  # cortex's default CORTEX_IDLE_INTERVAL


def start(
    module: str, env: dict[str, str], workdir: Path, ready_path: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full_env = {
        **os.environ, "PORT": str(port), "HOST": "127.0.0.1", "NOVA_ADMIN_SECRET": ADMIN, "NOVA_SERVICE_TOKEN": TOKEN,
        "LOG_LEVEL": "warning", "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env,
    }  # fmt: skip
    log = (workdir / f"{module}-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", module], env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{ready_path}", headers=HEADERS, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{module} did not start; see {log.name}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return ticks / os.sysconf("SC_CLK_TCK")


async def insert_goals(pg_url: str, count: int) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            """INSERT INTO goals (title, priority, created_by, schedule_cron, schedule_next_at, last_checked_at,
                                  check_interval_seconds)
               SELECT 'bench goal ' || n, 1 + n % 5, 'admin',
                      CASE WHEN n % 2 = 0 THEN '0 9 * * 1' END,
                      CASE WHEN n % 2 = 0 THEN now() + interval '7 days' END,
                      now(), 86400
               FROM generate_series(1, $1) AS n""",
            count,
        )
    finally:
        await conn.close()


async def cycle_count(client: httpx.AsyncClient) -> int:
    status = (await client.get("/api/v1/cortex/status")).json()
    return int(status["cycle_count"])


async def measure_cycles(cortex_url: str, redis_url: str, pid: int, cycles: int) -> tuple[list[float], float]:
    """Wall time of each stimulus-woken cycle, and the CPU seconds cortex spent per cycle."""
    stimuli = aioredis.Redis.from_url(redis_url_for("cortex", redis_url), decode_responses=True)
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=cortex_url, headers=HEADERS, timeout=30) as client:
        cpu_before = cpu_seconds(pid)
        for _ in range(cycles):
            before = await cycle_count(client)
            stimulus = {
                "type": "goal.updated",
                "source": "bench",
                "payload": {},
                "at": datetime.now(UTC).isoformat(),
            }
            started = time.perf_counter()
            await stimuli.lpush(STIMULI_KEY, json.dumps(stimulus))
            while await cycle_count(client) == before:  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
        cpu_per_cycle = (cpu_seconds(pid) - cpu_before) / cycles
    await stimuli.aclose()
    return latencies, cpu_per_cycle


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--goals", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nova-cortex-bench-"))
    pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port())
    redis_server = EmbeddedRedis(data_dir=workdir / "redis", port=free_port())
    pg.start()
    redis_server.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        closed = f"http://127.0.0.1:{free_port()}"
        orchestrator, orchestrator_url = start(
            "orchestrator",
            {
                "DATABASE_URL": pg.url,
                "REDIS_URL": redis_server.url,
                "LLM_GATEWAY_URL": closed,
                "MEMORY_SERVICE_URL": closed,
                "NOVA_WORKSPACE": str(workdir),
                "PIPELINE_WORKERS_ENABLED": "false",
            },
            workdir,
            "/api/v1/pods",
        )
        processes.append(orchestrator)
        await insert_goals(pg.url, args.goals)
        cortex, cortex_url = start(
            "cortex",
            {
                "REDIS_URL": redis_server.url,
                "ORCHESTRATOR_URL": orchestrator_url,
                "LLM_GATEWAY_URL": closed,
                "MEMORY_SERVICE_URL": closed,
            },
            workdir,
            "/api/v1/cortex/status",
        )
        processes.append(cortex)
        async with httpx.AsyncClient(base_url=cortex_url, headers=HEADERS, timeout=30) as client:
            deadline = time.monotonic() + 60
            while await cycle_count(client) == 0:  # the first cycle (after taking the lease) is the warm-up
                if time.monotonic() > deadline:
                    raise RuntimeError("cortex ran no cycle within 60 s")
                await asyncio.sleep(0.1)

        latencies, cpu_per_cycle = await measure_cycles(cortex_url, redis_server.url, cortex.pid, args.cycles)
        latencies.sort()
        p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
        print(
            f"{args.goals:,} active goals, none needing work: cycle latency (stimulus to cycle done) "
            f"p50 {statistics.median(latencies):.0f} ms  p95 {p95:.0f} ms  max {latencies[-1]:.0f} ms; "
            f"CPU {cpu_per_cycle * 1000:.0f} ms per cycle"
        )

        # The idle window starts once the loop has backed off from the cycles above to its long wait.
        await asyncio.sleep(30)
        async with httpx.AsyncClient(base_url=cortex_url, headers=HEADERS, timeout=30) as client:
            cycles_before = await cycle_count(client)
            cpu_before = cpu_seconds(cortex.pid)
            await asyncio.sleep(args.idle_seconds)
            idle_cpu = cpu_seconds(cortex.pid) - cpu_before
            idle_cycles = await cycle_count(client) - cycles_before
        # Cycles that fell in the window (the wait still backing off) are counted by the second term instead.
        baseline = max(idle_cpu - idle_cycles * cpu_per_cycle, 0.0) / args.idle_seconds * 3600
        per_hour = baseline + (3600 / IDLE_INTERVAL) * cpu_per_cycle
        print(
            f"idle: {idle_cpu:.2f} CPU s over {args.idle_seconds:.0f} s ({idle_cycles} cycles in the window); "
            f"an idle hour ≈ {per_hour:.1f} CPU s = {per_hour / 36:.2f} % of one core "
            f"(baseline {baseline:.1f} s + {3600 / IDLE_INTERVAL:.0f} idle cycles x {cpu_per_cycle:.2f} s); "
            "target < 1 %"
        )
    finally:
        for process in reversed(processes):
            stop(process)
        redis_server.stop()
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
