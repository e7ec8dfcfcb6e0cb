"""Memory formation throughput: items through the ingestion queue into PostgreSQL, per second.

Runs memory-service's own formation objects in this process against an embedded PostgreSQL and Redis:
items are pushed into the Redis queue, the ingestion worker takes, forms (source, facts with the fact-key
lookup, near-duplicate search, inserts, the ingestion row) and acknowledges them, and the clock stops when
the queue is drained.

    fake extractor   extraction and embeddings answered in-process (a fixed extraction, hash vectors):
                     what is left is the pipeline's own overhead per item. Target: under 5 ms per item.
    --gateway URL    the same through a running llm-gateway (its local model extracts, MiniLM embeds):
                     what a real deployment with the local model manages.

    uv run python bench/ingestion_throughput.py [--items 2000] [--concurrency 4] [--gateway http://127.0.0.1:8001]
"""

import argparse
import asyncio
import hashlib
import math
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from memory_service.clients.llm_gateway import LlmGatewayClient
from memory_service.config import Settings
from memory_service.db.engine import create_engine, session_factory
from memory_service.db.schema import apply_schema_migrations, ensure_vector_index
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.embeddings.service import EmbeddedText, EmbeddingService
from memory_service.formation.extraction import (
    ExtractedEntity,
    ExtractedFact,
    Extraction,
    Extractor,
)
from memory_service.formation.queue import IngestQueue
from memory_service.formation.service import FormationService
from memory_service.formation.worker import IngestWorker
from memory_service.memories.service import MemoryService
from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from nova_common.http import ServiceClient
from nova_common.loops import BackgroundLoops
from nova_contracts.memory import IngestItem, SourceInfo, SourceKind

DIM = 384
FAKE_MODEL = "bench-hash-vectors"


class FakeExtractor(Extractor):
    """A fixed-shape extraction derived from the text: one fact, one entity and the summary."""

    async def extract(self, content: str, *, source_kind: str, title: str | None) -> Extraction:
        n = content.rsplit(" ", 1)[-1]
        return Extraction(
            facts=[ExtractedFact(subject="user", attribute=f"visited_place_{n}", value=f"City {n}")],
            entities=[ExtractedEntity(name=f"City {n}", kind="city")],
            summary=f"The user talked about city {n}.",
        )


class HashEmbeddings(EmbeddingService):
    """Deterministic unit vectors from a text's hash: no model, so only the pipeline is timed."""

    async def embed(self, texts: list[str]) -> list[EmbeddedText]:
        return [EmbeddedText(vector=_vector(t), model=FAKE_MODEL, dim=DIM) for t in texts]


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [((digest[i % 32] + 7 * i) % 251) / 125.0 - 1.0 for i in range(DIM)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def item(n: int) -> IngestItem:
    return IngestItem(
        id=uuid.uuid4(),
        enqueued_at=datetime.now(UTC),
        content=f"User: last summer I went to a place I will call number {n}",
        source=SourceInfo(kind=SourceKind.CHAT, title="bench"),
    )


async def drained(queue: IngestQueue) -> bool:
    depth = await queue.depth()
    return depth.queued == 0 and depth.processing == 0


async def run(pg_url: str, redis_url: str, args: argparse.Namespace, *, fake: bool) -> None:
    settings = Settings.model_validate(
        {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "LLM_GATEWAY_URL": args.gateway or "http://127.0.0.1:9",
        }
    )
    await apply_schema_migrations(pg_url)
    engine = create_engine(pg_url, pool_size=args.concurrency + 4)
    sessions = session_factory(engine)
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await redis.flushdb()
    http = ServiceClient(
        "llm-gateway", args.gateway or "http://127.0.0.1:9", service_token=args.service_token
    )
    gateway = LlmGatewayClient(http, timeout=120)
    options = {"model": None, "dimensions": None, "batch_size": 64, "ttl_seconds": 3600}
    embeddings_class = HashEmbeddings if fake else EmbeddingService
    embeddings = embeddings_class(sessions, redis, gateway, **options)  # type: ignore[arg-type]
    if fake:
        await ensure_vector_index(engine, FAKE_MODEL, DIM, m=16, ef_construction=64)
        embeddings.target = EmbeddingTarget(FAKE_MODEL, DIM)
    memories = MemoryService(sessions, embeddings, settings)
    extractor_class = FakeExtractor if fake else Extractor
    extractor = extractor_class(gateway, model=None, timeout=120, max_input_chars=12_000)
    queue = IngestQueue(redis, max_length=10**9, max_attempts=3)
    formation = FormationService(sessions, memories, extractor, settings)
    worker = IngestWorker(queue, formation, concurrency=args.concurrency)
    count = args.items if fake else min(args.items, args.model_items)
    for start in range(0, count, 500):
        batch = [item(n).model_dump_json() for n in range(start, min(count, start + 500))]
        await redis.lpush("nova:memory:ingest:queue", *batch)
    loops = BackgroundLoops()
    cpu_started = time.process_time()
    started = time.perf_counter()
    await worker.start(loops)
    # Polling Redis: the queue offers no event to wait on.
    while not await drained(queue):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await loops.stop()
    label = "fake extractor" if fake else f"gateway {args.gateway}"
    print(
        f"{label:>40}: {count} items in {elapsed:.2f}s = {count / elapsed:,.1f} items/s,"
        f" {elapsed / count * 1000:.2f} ms/item wall, {cpu / count * 1000:.2f} ms/item CPU in this process,"
        f" concurrency {args.concurrency}; formed {worker.formed}, failed {worker.failed}"
    )
    print(f"{'':>40}  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)")
    await redis.aclose()
    await http.aclose()
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--model-items", type=int, default=20, help="items through the real model")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--gateway", help="a running llm-gateway; without it only the fake extractor runs")
    parser.add_argument("--service-token", default=os.environ.get("NOVA_SERVICE_TOKEN", ""))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nova-ingestion-bench-"))
    pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port())
    redis_server = EmbeddedRedis(data_dir=workdir / "redis", port=free_port())
    pg.start()
    redis_server.start()
    try:
        await run(pg.url, redis_server.url, args, fake=True)
        if args.gateway:
            try:
                async with httpx.AsyncClient(timeout=3) as client:
                    (await client.get(f"{args.gateway}/health/live")).raise_for_status()
            except httpx.HTTPError as exc:
                print(f"gateway {args.gateway} not reachable ({exc}); local-model run skipped")
            else:
                await run(pg.url, redis_server.url, args, fake=False)
        else:
            print(
                "local model: not measured (pass --gateway URL of a running llm-gateway with a local model)"
            )
    finally:
        redis_server.stop()
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
