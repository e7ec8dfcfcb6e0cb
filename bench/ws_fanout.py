"""chat-api fan-out: N concurrent WebSocket sessions, each sending one message and receiving its streamed answer.

Starts embedded PostgreSQL and Redis, the instant fake model (tests/fakes' OpenAI-compatible server), and the
real llm-gateway, memory-service, orchestrator and chat-api processes, then prints:
  - frames/s delivered to clients while all sessions are answered at once,
  - answers/s, p50/p95 time to first frame of the answer,
  - chat-api's resident memory per open connection.
The chat agent recalls no memories (memory_tiers=[]): the embedded PostgreSQL's pgvector dies with SIGILL on
some CPUs during vector search, and recall is not what this measures. --no-model skips the model and gateway:
each answer is then the orchestrator's one-frame in-band error.

    uv run python bench/ws_fanout.py [--sessions 500] [--words 50] [--no-model]
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402
from redis import Redis as SyncRedis  # noqa: E402
from tests.fakes import FakeOpenAI, Reply, serve_in_thread  # noqa: E402
from tests.stack import STACK_ADMIN_SECRET, ServiceProcess, orchestrator_env  # noqa: E402

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one_session(
    url: str, start: asyncio.Event, ready: asyncio.Barrier
) -> tuple[float, float, int, str]:
    """(time to first answer frame, time to the end of the answer, frames received, how it ended)."""
    async with websockets.connect(url, max_queue=None, open_timeout=60) as ws:
        json.loads(await ws.recv())  # system
        await ready.wait()
        await start.wait()
        sent = time.perf_counter()
        await ws.send(json.dumps({"type": "user", "content": "Say hello in one short sentence."}))
        first = 0.0
        frames = 0
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 300))
            if frame["type"] == "queued":
                continue
            frames += 1
            if not first:
                first = time.perf_counter() - sent
            if frame["type"] in ("stream_end", "error"):
                return first, time.perf_counter() - sent, frames, frame["type"]


async def run(chat_url: str, api_key: str, sessions: int, chat_pid: int) -> None:
    url = f"{chat_url.replace('http', 'ws')}/ws/chat?token={api_key}"
    start = asyncio.Event()
    ready = asyncio.Barrier(sessions + 1)
    idle_rss = rss_kib(chat_pid)
    tasks = [asyncio.create_task(one_session(url, start, ready)) for _ in range(sessions)]
    await ready.wait()
    connected_rss = rss_kib(chat_pid)
    began = time.perf_counter()
    start.set()
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began

    firsts = sorted(r[0] for r in results)
    frames = sum(r[2] for r in results)
    endings: dict[str, int] = {}
    for r in results:
        endings[r[3]] = endings.get(r[3], 0) + 1
    p95 = firsts[max(0, int(len(firsts) * 0.95) - 1)]
    print(f"sessions                      {sessions}")
    print(f"answers ended with            {endings}")
    print(f"wall time for all answers     {elapsed:.2f} s")
    print(f"frames delivered per second   {frames / elapsed:,.0f}  ({frames} frames)")
    print(f"answers per second            {sessions / elapsed:,.1f}")
    print(f"time to first frame p50/p95   {statistics.median(firsts) * 1000:.0f} / {p95 * 1000:.0f} ms")
    print(f"chat-api RSS idle/connected   {idle_rss / 1024:.1f} / {connected_rss / 1024:.1f} MiB")
    print(f"memory per connection         {(connected_rss - idle_rss) / sessions:.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument(
        "--words", type=int, default=50, help="words in the fake model's answer (one chunk each)"
    )
    parser.add_argument("--no-model", action="store_true", help="no model or gateway: measure the error path")
    args = parser.parse_args()

    model = FakeOpenAI(models=["gpt-4o-mini"])
    model.script.default = Reply(content=" ".join(f"word{i}" for i in range(args.words)))
    with tempfile.TemporaryDirectory(prefix="nova-bench-") as tmp, serve_in_thread(model.app) as upstream:
        work = Path(tmp)
        postgres = EmbeddedPostgres(data_dir=work / "pg", port=free_port())
        redis = EmbeddedRedis(data_dir=work / "redis", port=free_port())
        postgres.start()
        redis.start()
        (work / "workspace").mkdir()
        quiet = {"LOG_LEVEL": "WARNING"}
        processes: list[ServiceProcess] = []
        try:
            gateway_url = f"http://127.0.0.1:{free_port()}"
            memory_url = f"http://127.0.0.1:{free_port()}"
            if not args.no_model:
                gateway = ServiceProcess(
                    "llm_gateway",
                    {
                        **quiet,
                        "REDIS_URL": redis.url,
                        "OPENAI_API_KEY": "sk-fake",
                        "OPENAI_BASE_URL": f"{upstream.url}/v1",
                        "DEFAULT_CHAT_MODEL": "openai/gpt-4o-mini",
                        "RESPONSE_CACHE_TTL": "0",
                    },
                    work,
                ).start()
                processes.append(gateway)
                memory = ServiceProcess(
                    "memory_service",
                    {
                        **quiet,
                        "REDIS_URL": redis.url,
                        "DATABASE_URL": postgres.url,
                        "LLM_GATEWAY_URL": gateway.url,
                    },
                    work,
                ).start()
                processes.append(memory)
                gateway_url, memory_url = gateway.url, memory.url
            env = orchestrator_env(
                postgres.url, redis.url, gateway_url=gateway_url, workspace=work / "workspace"
            )
            orchestrator = ServiceProcess(
                "orchestrator", {**env, **quiet, "MEMORY_SERVICE_URL": memory_url}, work
            )
            processes.append(orchestrator.start())
            chat = ServiceProcess(
                "chat_api",
                {
                    **quiet,
                    "REDIS_URL": redis.url,
                    "ORCHESTRATOR_URL": orchestrator.url,
                    "REQUIRE_AUTH": "true",
                    "WS_MAX_CONNECTIONS": str(args.sessions + 10),
                    "WS_MAX_PER_IP": str(args.sessions + 10),
                },
                work,
            )
            processes.append(chat.start())
            admin = {"X-Admin-Secret": STACK_ADMIN_SECRET}
            created = httpx.post(
                f"{orchestrator.url}/api/v1/keys",
                json={"name": "bench", "rate_limit_rpm": 100_000},
                headers=admin,
            )
            created.raise_for_status()
            key = created.json()["key"]
            agent = httpx.post(
                f"{orchestrator.url}/api/v1/agents",
                json={"config": {"name": "Nova", "memory_tiers": []}},
                headers={"X-API-Key": key},
            )
            agent.raise_for_status()
            # chat-api keeps one agent per owner; hand it this key's agent so it does not create its own.
            key_id = created.json()["id"]
            SyncRedis.from_url(redis.url.rsplit("/", 1)[0] + "/3").set(
                f"nova:chat:agent_id:key:{key_id}", agent.json()["id"]
            )
            assert chat.process is not None
            print(
                f"model: {'none (answers are the orchestrator in-band error)' if args.no_model else f'instant fake, {args.words} words'}"
            )
            asyncio.run(run(chat.url, key, args.sessions, chat.process.pid))
        except BaseException:
            for process in processes:
                print(f"--- {process.package} log\n{process.log_tail(40)}")
            raise
        finally:
            for process in reversed(processes):
                process.stop()
            redis.stop()
            postgres.destroy()


if __name__ == "__main__":
    main()
