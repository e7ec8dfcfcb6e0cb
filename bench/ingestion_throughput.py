"""Memory formation throughput: items through the ingestion queue into PostgreSQL, per second.

Runs memory-service's own formation objects in this process against an embedded PostgreSQL and Redis:
items are pushed into the Redis queue, the ingestion worker takes, forms (source, facts with the fact-key
lookup, near-duplicate search, inserts, the ingestion row) and acknowledges them, and the clock stops when
the queue is drained.

    fake extractor   extraction and embeddings answered in-process (a fixed extraction, hash vectors):
                     what is left is the pipeline's own overhead per item. Target: under 5 ms per item.
                     Measured twice in the same run on emptied tables: item by item (batch size 1, the
                     baseline: one embedding call, one transaction and the queue moves per item) and in
                     batches (--batch-size, the service's INGEST_BATCH_SIZE), with the ratio of the two,
                     so a busy machine moves both numbers rather than the comparison.
    --gateway URL    the same through a running llm-gateway (its local model extracts, MiniLM embeds):
                     what a real deployment with the local model manages.

The breakdown splits each run's time per item into the fake model's own share (extraction and hash
vectors: not the pipeline's), the queue (Redis moves, acknowledgements) and formation's database work
(everything else of `form_batch`); with concurrency above 1 the stages overlap, so they add up to more
than the wall time.

    uv run python bench/ingestion_throughput.py [--items 2000] [--concurrency 2] [--batch-size 32]
        [--gateway http://127.0.0.1:8001]
"""

import argparse
import asyncio
import hashlib
import math
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from sqlalchemy import text

from memory_service.clients.llm_gateway import MemoryGatewayClient
from memory_service.config import Settings
from memory_service.db.engine import create_engine, session_factory
from memory_service.db.schema import apply_schema_migrations, ensure_vector_index
from memory_service.embeddings.repository import EmbeddingTarget
from memory_service.embeddings.service import EmbeddedText, MemoryEmbedder
from memory_service.formation import repository as formation_repository
from memory_service.formation.extraction import (
    ExtractedEntity,
    ExtractedFact,
    Extraction,
    Extractor,
)
from memory_service.formation.queue import IngestQueue, Taken
from memory_service.formation.service import FormationService
from memory_service.formation.worker import IngestWorker
from memory_service.memories.service import MemoryService
from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from nova_common.http import ServiceClient
from nova_common.loops import BackgroundLoops
from nova_contracts.memory import (
    FormationResult,
    IngestItem,
    MemoryCreate,
    MemoryTier,
    SourceInfo,
    SourceKind,
)

DIM = 384
FAKE_MODEL = "bench-hash-vectors"


class Stopwatch:
    """Seconds spent per stage, summed over the worker's concurrent loops."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


WATCH = Stopwatch()


class TimedQueue(IngestQueue):
    async def take_batch(self, wait_seconds: float, size: int) -> list[Taken]:
        started = time.perf_counter()
        taken = await super().take_batch(wait_seconds, size)
        if taken:  # an empty take is the worker waiting, not work
            WATCH.add("queue", started)
        return taken

    async def done(self, *taken: Taken) -> None:
        started = time.perf_counter()
        await super().done(*taken)
        WATCH.add("queue", started)


class TimedFormation(FormationService):
    async def form_batch(self, items: list[IngestItem]) -> list[FormationResult | Exception]:
        started = time.perf_counter()
        results = await super().form_batch(items)
        WATCH.add("formation", started)
        return results


class FakeExtractor(Extractor):
    """A fixed-shape extraction derived from the text: one fact, one entity and the summary."""

    async def extract(self, content: str, *, source_kind: str, title: str | None) -> Extraction:
        started = time.perf_counter()
        n = content.rsplit(" ", 1)[-1]
        WATCH.add("fake model", started)
        return Extraction(
            facts=[ExtractedFact(subject="user", attribute=f"visited_place_{n}", value=f"City {n}")],
            entities=[ExtractedEntity(name=f"City {n}", kind="city")],
            summary=f"The user talked about city {n}.",
        )


class HashEmbeddings(MemoryEmbedder):
    """Deterministic unit vectors from a text's hash: no model, so only the pipeline is timed."""

    async def embed(self, texts: list[str]) -> list[EmbeddedText]:
        started = time.perf_counter()
        vectors = [EmbeddedText(vector=_vector(t), model=FAKE_MODEL, dim=DIM) for t in texts]
        WATCH.add("fake model", started)
        return vectors


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


@dataclass
class Measured:
    label: str
    items: int
    wall: float
    cpu: float
    stages: dict[str, float]

    @property
    def overhead_ms(self) -> float:
        """Wall time per item without the fake model's share: the pipeline's own cost."""
        fake_share = self.stages.get("fake model", 0.0) / max(sum(self.stages.values()), 1e-9)
        return self.wall * (1.0 - fake_share) / self.items * 1000


async def run(
    pg_url: str, redis_url: str, args: argparse.Namespace, *, fake: bool, batch_size: int
) -> Measured:
    settings = Settings.model_validate(
        {
            "DATABASE_URL": pg_url,
            "REDIS_URL": redis_url,
            "LLM_GATEWAY_URL": args.gateway or "http://127.0.0.1:9",
        }
    )
    await apply_schema_migrations(pg_url)
    engine = create_engine(pg_url, pool_size=args.concurrency + 4)
    async with engine.begin() as conn:  # each run starts from the same empty tables
        await conn.execute(text("TRUNCATE memories, sources, ingestions, contradictions CASCADE"))
    sessions = session_factory(engine)
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await redis.flushdb()
    http = ServiceClient(
        "llm-gateway", args.gateway or "http://127.0.0.1:9", service_token=args.service_token
    )
    gateway = MemoryGatewayClient(http, timeout=120)
    options = {"model": None, "dimensions": None, "batch_size": 64, "ttl_seconds": 3600}
    embeddings_class = HashEmbeddings if fake else MemoryEmbedder
    embeddings = embeddings_class(sessions, redis, gateway, **options)  # type: ignore[arg-type]
    if fake:
        await ensure_vector_index(engine, FAKE_MODEL, DIM, m=16, ef_construction=64)
        embeddings.target = EmbeddingTarget(FAKE_MODEL, DIM)
    memories = MemoryService(sessions, embeddings, settings)
    extractor_class = FakeExtractor if fake else Extractor
    extractor = extractor_class(gateway, model=None, timeout=120, max_input_chars=12_000)
    queue = TimedQueue(redis, max_length=10**9, max_attempts=3)
    formation = TimedFormation(sessions, memories, extractor, settings)
    worker = IngestWorker(queue, formation, concurrency=args.concurrency, batch_size=batch_size)
    count = args.items if fake else min(args.items, args.model_items)
    for start in range(0, count, 500):
        batch = [item(n).model_dump_json() for n in range(start, min(count, start + 500))]
        await redis.lpush("nova:memory:ingest:queue", *batch)
    loops = BackgroundLoops()
    WATCH.seconds.clear()
    cpu_started = time.process_time()
    started = time.perf_counter()
    await worker.start(loops)
    # Polling Redis: the queue offers no event to wait on.
    while not await drained(queue):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await loops.stop()
    stages = dict(WATCH.seconds)
    # The database's share: formation's time without the fake model's extraction and vectors.
    stages["database"] = stages.pop("formation", 0.0) - stages.get("fake model", 0.0)
    label = ("fake extractor" if fake else f"gateway {args.gateway}") + f", batch {batch_size}"
    measured = Measured(label, count, elapsed, cpu, stages)
    print(
        f"{label:>40}: {count} items in {elapsed:.2f}s = {count / elapsed:,.1f} items/s,"
        f" {elapsed / count * 1000:.2f} ms/item wall, {cpu / count * 1000:.2f} ms/item CPU in this process,"
        f" concurrency {args.concurrency}; formed {worker.formed}, failed {worker.failed}"
    )
    breakdown = ", ".join(f"{k} {v / count * 1000:.2f}" for k, v in sorted(stages.items()))
    print(f"{'':>40}  per item (ms, summed over loops): {breakdown}")
    print(
        f"{'':>40}  pipeline overhead {measured.overhead_ms:.2f} ms/item (wall without the fake model's share)"
    )
    print(f"{'':>40}  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)")
    await redis.aclose()
    await http.aclose()
    await engine.dispose()
    return measured


async def storage_floor(pg_url: str, args: argparse.Namespace) -> float:
    """Wall ms per item to insert what formation stores for an item (a fact, an entity, an episode, with
    their vectors) and nothing else, in transactions of one batch each: PostgreSQL's own share (its HNSW,
    GIN and B-tree inserts), which no change to the pipeline removes."""
    settings = Settings.model_validate(
        {"DATABASE_URL": pg_url, "REDIS_URL": "redis://127.0.0.1:9", "LLM_GATEWAY_URL": "http://127.0.0.1:9"}
    )
    engine = create_engine(pg_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE memories, sources, ingestions, contradictions CASCADE"))
    sessions = session_factory(engine)
    memories = MemoryService(sessions, None, settings)  # type: ignore[arg-type]  # row_values only
    extractor = FakeExtractor(None, model=None, timeout=1, max_input_chars=1000)  # type: ignore[arg-type]
    rows: list[dict[str, object]] = []
    for n in range(args.items):
        extraction = await extractor.extract(item(n).content, source_kind="chat", title=None)
        fact = extraction.facts[0]
        texts = [
            (MemoryTier.SEMANTIC, f"{fact.subject} {fact.attribute} {fact.value}", "user", fact.attribute),
            (MemoryTier.SEMANTIC, f"{extraction.entities[0].name} (city)", None, None),
            (MemoryTier.EPISODIC, extraction.summary, None, None),
        ]
        for tier, content, category, key in texts:
            create = MemoryCreate(content=content, tier=tier, category=category, key=key, project_id="nova")
            embedded = EmbeddedText(vector=_vector(content), model=FAKE_MODEL, dim=DIM)
            rows.append(memories.row_values(create, embedded))
    started = time.perf_counter()
    per_batch = 3 * args.batch_size
    for start in range(0, len(rows), per_batch):
        async with sessions.begin() as session:
            await formation_repository.insert_memory_rows(session, rows[start : start + per_batch])
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed / args.items * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--model-items", type=int, default=20, help="items through the real model")
    parser.add_argument("--concurrency", type=int, default=2, help="the service's INGEST_CONCURRENCY")
    parser.add_argument("--batch-size", type=int, default=32, help="the service's INGEST_BATCH_SIZE")
    parser.add_argument("--gateway", help="a running llm-gateway; without it only the fake extractor runs")
    parser.add_argument("--service-token", default=os.environ.get("NOVA_SERVICE_TOKEN", ""))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="nova-ingestion-bench-"))
    pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port())
    redis_server = EmbeddedRedis(data_dir=workdir / "redis", port=free_port())
    pg.start()
    redis_server.start()
    try:
        baseline = await run(pg.url, redis_server.url, args, fake=True, batch_size=1)
        batched = await run(pg.url, redis_server.url, args, fake=True, batch_size=args.batch_size)
        floor = await storage_floor(pg.url, args)
        print(
            f"\npipeline overhead per item: {batched.overhead_ms:.2f} ms in batches of {args.batch_size}"
            f" vs {baseline.overhead_ms:.2f} ms item by item (baseline, same run):"
            f" {baseline.overhead_ms / max(batched.overhead_ms, 1e-9):.1f}x less; target < 5 ms"
        )
        print(
            f"storing the same three memories per item alone (multi-row INSERTs of {args.batch_size} items,"
            f" no queue, no formation): {floor:.2f} ms/item; formation above that:"
            f" {batched.overhead_ms - floor:.2f} ms/item"
        )
        if args.gateway:
            try:
                async with httpx.AsyncClient(timeout=3) as client:
                    (await client.get(f"{args.gateway}/health/live")).raise_for_status()
            except httpx.HTTPError as exc:
                print(f"gateway {args.gateway} not reachable ({exc}); local-model run skipped")
            else:
                await run(pg.url, redis_server.url, args, fake=False, batch_size=args.batch_size)
        else:
            print(
                "local model: not measured (pass --gateway URL of a running llm-gateway with a local model)"
            )
    finally:
        redis_server.stop()
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
