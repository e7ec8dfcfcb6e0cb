"""Retrieval quality of memory-service on BEIR-format collections, measured through its own HTTP API.

    uv run python bench/retrieval_eval.py                  # SciFact (tune on train, report test) + Cranfield
    uv run python bench/retrieval_eval.py --quick          # fewer weights, for a smoke run

Starts what it needs as real processes: an embedded PostgreSQL and Redis (unless DATABASE_URL and
REDIS_URL point at servers), the llm-gateway (MiniLM embeddings) and memory-service. Each collection
is stored with POST /api/v1/memories/bulk into a fresh database and queried with POST /search
(limit 100) under every fusion method; nDCG@10 (linear gains, as trec_eval) and recall@100 are printed.

Weights are tuned on SciFact's *training* queries and reported on its test queries. Cranfield is held
out: it is only ever scored with the weights SciFact chose.
"""

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SCIFACT = DATA / "ir" / "scifact"
CRANFIELD = DATA / "ir-holdout" / "cranfield"
TOKEN = "bench-service-token-" + uuid.uuid4().hex
HEADERS = {"X-Service-Token": TOKEN}
BULK_SIZE = 250
CONCURRENCY = 4
K_NDCG = 10
K_RECALL = 100
NORMALIZATIONS = ("0", "1", "2", "8", "16")


@dataclass
class Collection:
    name: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, dict[str, int]]]  # split -> query -> doc -> gain


def load_collection(path: Path, name: str) -> Collection:
    corpus: dict[str, str] = {}
    for line in (path / "corpus.jsonl").read_text().splitlines():
        doc = json.loads(line)
        content = f"{doc.get('title', '')}\n{doc.get('text', '')}".strip()
        if content:
            corpus[str(doc["_id"])] = content
    queries = {
        str(q["_id"]): q["text"] for q in map(json.loads, (path / "queries.jsonl").read_text().splitlines())
    }
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for split_file in sorted((path / "qrels").glob("*.tsv")):
        split: dict[str, dict[str, int]] = {}
        for line in split_file.read_text().splitlines()[1:]:
            qid, did, gain = line.split("\t")
            if int(gain) > 0:
                split.setdefault(qid, {})[did] = int(gain)
        qrels[split_file.stem] = split
    return Collection(name, corpus, queries, qrels)


def ndcg_at(ranked: list[str], gains: dict[str, int], k: int) -> float:
    dcg = sum(gains.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], gains: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & gains.keys()) / len(gains) if gains else 0.0


# --- processes -------------------------------------------------------------------------------------


@asynccontextmanager
async def infrastructure(workdir: Path) -> AsyncIterator[tuple[str, str]]:
    """(postgres admin URL, redis URL): the environment's, or embedded servers started here.

    The embedded PostgreSQL keeps its data in `workdir`, so a later run reuses what was embedded."""
    with ExitStack() as stack:
        pg_url = os.environ.get("DATABASE_URL")
        if not pg_url:
            pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port())
            pg.start()
            stack.callback(pg.stop)
            pg_url = pg.url
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis = EmbeddedRedis(data_dir=workdir / "redis", port=free_port())
            redis.start()
            stack.callback(redis.stop)
            redis_url = redis.url
        yield pg_url, redis_url


@contextmanager
def service_process(module: str, env: dict[str, str], log_path: Path, port: int) -> Iterator[str]:
    full_env = {**os.environ, **env, "PORT": str(port), "HOST": "127.0.0.1", "NOVA_SERVICE_TOKEN": TOKEN}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module], env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def fresh_database(admin_url: str, name: str, *, reuse: bool = False) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and not reuse:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or not reuse:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rpartition("/")[0] + "/" + name


# --- loading and searching through the API ----------------------------------------------------------


async def load(client: httpx.AsyncClient, db_url: str, collection: Collection) -> None:
    """Store the documents not stored yet, then wait until every one has its vector (a batch the
    gateway could not embed in time is embedded by the service's backlog loop)."""
    conn = await asyncpg.connect(db_url)
    try:
        stored = {r["d"] for r in await conn.fetch("SELECT metadata->>'doc_id' AS d FROM memories")}
        items = [(did, text) for did, text in collection.corpus.items() if did not in stored]
        started = time.perf_counter()
        for start in range(0, len(items), BULK_SIZE):
            batch = items[start : start + BULK_SIZE]
            body = {"items": [{"content": text, "metadata": {"doc_id": did}} for did, text in batch]}
            response = await client.post("/api/v1/memories/bulk", json=body, timeout=3600)
            response.raise_for_status()
        for _ in range(3600):  # the backlog loop catches up; two hours at most
            if not await conn.fetchval("SELECT count(*) FROM memories WHERE embedding_model IS NULL"):
                break
            await asyncio.sleep(2)
        elapsed = time.perf_counter() - started
        rate = f" ({len(items) / elapsed:.1f} docs/s, embedding included)" if items else ""
        print(f"  stored {len(items)} documents ({len(stored)} were already there) in {elapsed:.1f}s{rate}")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Config:
    fusion: str
    weight: float | None = None

    @property
    def label(self) -> str:
        return self.fusion if self.weight is None else f"{self.fusion} w={self.weight:.2f}"


async def run_queries(
    client: httpx.AsyncClient, queries: dict[str, str], config: Config
) -> tuple[dict[str, list[str]], list[float]]:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    results: dict[str, list[str]] = {}
    latencies: list[float] = []

    async def one(qid: str, text: str) -> None:
        body: dict[str, Any] = {"query": text[:10_000], "limit": K_RECALL, "fusion": config.fusion}
        if config.weight is not None:
            body["vector_weight"] = config.weight
        async with semaphore:
            started = time.perf_counter()
            response = await client.post("/api/v1/memories/search", json=body, timeout=120)
            latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        payload = response.json()
        if payload["keyword_only_fallback"]:
            raise RuntimeError("search fell back to keywords: embeddings unavailable")
        results[qid] = [hit["memory"]["metadata"]["doc_id"] for hit in payload["hits"]]

    await asyncio.gather(*(one(qid, text) for qid, text in queries.items()))
    return results, latencies


async def score(
    client: httpx.AsyncClient, collection: Collection, split: str, config: Config
) -> tuple[float, float, float]:
    qrels = collection.qrels[split]
    queries = {qid: collection.queries[qid] for qid in qrels if qid in collection.queries}
    ranked, latencies = await run_queries(client, queries, config)
    ndcg = statistics.fmean(ndcg_at(ranked[q], qrels[q], K_NDCG) for q in queries)
    recall = statistics.fmean(recall_at(ranked[q], qrels[q], K_RECALL) for q in queries)
    return ndcg, recall, statistics.median(latencies)


def print_table(title: str, rows: list[tuple[str, float, float, float]]) -> None:
    print(f"\n{title}")
    print(f"  {'method':<22} {'nDCG@10':>8} {'R@100':>8} {'p50 ms':>8}")
    for label, ndcg, recall, p50 in rows:
        print(f"  {label:<22} {ndcg:>8.4f} {recall:>8.4f} {p50:>8.1f}")


async def evaluate(args: argparse.Namespace) -> None:
    weights = [0.3, 0.5, 0.7] if args.quick else [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    args.workdir.mkdir(parents=True, exist_ok=True)
    async with infrastructure(args.workdir) as (pg_url, redis_url):
        await evaluate_collections(args, weights, args.workdir, pg_url, redis_url)


@asynccontextmanager
async def memory_service(env: dict[str, str], log_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    with service_process("memory_service", env, log_path, free_port()) as url:
        async with httpx.AsyncClient(base_url=url, headers=HEADERS) as client:
            yield client


async def evaluate_collections(
    args: argparse.Namespace, weights: list[float], workdir: Path, pg_url: str, redis_url: str
) -> None:
    gateway_env = {"REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
    with service_process("llm_gateway", gateway_env, workdir / "gateway.log", free_port()) as gateway_url:
        chosen: dict[str, float] = {}
        tuned_env: dict[str, str] = {}
        for collection_path, name, tune in ((SCIFACT, "scifact", True), (CRANFIELD, "cranfield", False)):
            if args.only and name != args.only:
                continue
            collection = load_collection(collection_path, name)
            print(f"\n== {name}: {len(collection.corpus)} documents")
            db_url = await fresh_database(pg_url, f"eval_{name}", reuse=True)
            env = {
                "DATABASE_URL": db_url,
                "REDIS_URL": redis_url,
                "LLM_GATEWAY_URL": gateway_url,
                "LOG_LEVEL": "WARNING",
                # Compaction would merge near-duplicate abstracts and change the collection.
                "COMPACTION_INTERVAL_SECONDS": "1000000",
                "EMBEDDING_BATCH_SIZE": "16",
                # MiniLM on two busy cores embeds about one abstract per second.
                "EMBEDDING_TIMEOUT_SECONDS": "900",
                "EMBEDDING_BACKLOG_INTERVAL_SECONDS": "2",
            }
            log_path = workdir / f"memory-{name}.log"
            async with memory_service(env, log_path) as client:
                await load(client, db_url, collection)
            if tune:
                # ts_rank's normalisation is a service setting: one service process per value, same data.
                rows = []
                best_norm = (-1.0, "1")
                for norm in NORMALIZATIONS:
                    async with memory_service(
                        {**env, "KEYWORD_RANK_NORMALIZATION": norm}, log_path
                    ) as client:
                        ndcg, recall, p50 = await score(client, collection, "train", Config("keyword"))
                    rows.append((f"keyword norm={norm}", ndcg, recall, p50))
                    best_norm = max(best_norm, (ndcg, norm))
                tuned_env["KEYWORD_RANK_NORMALIZATION"] = best_norm[1]
                async with memory_service({**env, **tuned_env}, log_path) as client:
                    for fusion in ("weighted", "rrf"):
                        best = (-1.0, 0.5)
                        for w in weights:
                            ndcg, recall, p50 = await score(client, collection, "train", Config(fusion, w))
                            rows.append((Config(fusion, w).label, ndcg, recall, p50))
                            best = max(best, (ndcg, w))
                        chosen[fusion] = best[1]
                    rows.append(("dense", *await score(client, collection, "train", Config("dense"))))
                print_table(f"{name} train (tuning, {len(collection.qrels['train'])} queries)", rows)
                print(f"  chosen: ts_rank normalisation {best_norm[1]}, weights {chosen}")
            async with memory_service({**env, **tuned_env}, log_path) as client:
                configs = [Config("dense"), Config("keyword")]
                # Without a SciFact run first (--only cranfield) the weights are the service's.
                configs += [Config(f, chosen.get(f)) for f in ("weighted", "rrf")]
                rows = [(c.label, *await score(client, collection, "test", c)) for c in configs]
            # The service exactly as configured by default: no fusion, weight or normalisation given.
            async with memory_service(env, log_path) as client:
                rows.append(("service default", *await score_default(client, collection)))
            print_table(f"{name} test ({len(collection.qrels['test'])} queries)", rows)


async def score_default(client: httpx.AsyncClient, collection: Collection) -> tuple[float, float, float]:
    """The settings the service runs with when a request names no fusion and no weight."""
    qrels = collection.qrels["test"]
    queries = {qid: collection.queries[qid] for qid in qrels if qid in collection.queries}
    semaphore = asyncio.Semaphore(CONCURRENCY)
    ranked: dict[str, list[str]] = {}
    latencies: list[float] = []

    async def one(qid: str, text: str) -> None:
        async with semaphore:
            started = time.perf_counter()
            response = await client.post("/api/v1/memories/search", json={"query": text, "limit": K_RECALL})
            latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        ranked[qid] = [hit["memory"]["metadata"]["doc_id"] for hit in response.json()["hits"]]

    await asyncio.gather(*(one(q, t) for q, t in queries.items()))
    ndcg = statistics.fmean(ndcg_at(ranked[q], qrels[q], K_NDCG) for q in queries)
    recall = statistics.fmean(recall_at(ranked[q], qrels[q], K_RECALL) for q in queries)
    return ndcg, recall, statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="three weights instead of seven")
    parser.add_argument("--only", choices=["scifact", "cranfield"], help="evaluate one collection")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nova-retrieval-eval",
        help="where the embedded PostgreSQL keeps the stored collections between runs",
    )
    asyncio.run(evaluate(parser.parse_args()))


if __name__ == "__main__":
    main()
