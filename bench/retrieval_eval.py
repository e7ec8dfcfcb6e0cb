"""Retrieval quality of memory-service on BEIR-format collections, measured through its own HTTP API.

    uv run python bench/retrieval_eval.py                   # tune on SciFact train, report SciFact test + Cranfield
    uv run python bench/retrieval_eval.py --quick           # fewer keyword variants and a coarser fusion grid
    uv run python bench/retrieval_eval.py --no-tune         # report only, with the service's own defaults
    uv run python bench/retrieval_eval.py --only cranfield  # one collection (Cranfield is never tuned on)

The collections are not part of the repository (SciFact is CC BY-NC). Point `--data` (or NOVA_EVAL_DATA) at
a directory holding them in BEIR's layout (corpus.jsonl, queries.jsonl, qrels/<split>.tsv):
    <data>/ir/scifact/            BEIR SciFact: https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip
    <data>/ir-holdout/cranfield/  Cranfield-1400 in BEIR layout (qrels/test.tsv, graded 1-4), e.g. converted
                                  from the `cranfield` collection of ir_datasets (https://ir-datasets.com/cranfield.html)

Starts what it needs as real processes: an embedded PostgreSQL and Redis (unless DATABASE_URL and
REDIS_URL point at servers), the llm-gateway (all-MiniLM-L6-v2) and memory-service. Each collection is
stored once with POST /api/v1/memories/bulk into its own database, kept in --workdir: that database is
the on-disk embedding cache, so a document is embedded once, ever, and later runs (and every setting
tried within a run) only search. Query vectors land in the service's own embedding cache the first time.

Tuning uses SciFact's *training* queries only:
1. every keyword-arm variant (ts_rank / ts_rank_cd normalisations, OR vs AND vs websearch queries, BM25
   k1/b) is a service setting, so each runs in its own memory-service process over the same database;
2. the dense arm and the best keyword arms are read once each, 200 deep, through POST /search; the
   fusion grid (RRF k and weight, weighted sum with min-max / z-score / rank normalisation and weight,
   candidate depth per arm) is then scored offline with the same formulas as the service's SQL
   (memory_service/memories/search.py), since fusion settings only change how those two lists combine;
3. the winners are re-run through the API, so every number reported comes from the service itself.
SciFact's test queries and Cranfield (held out, graded qrels) are only ever scored, never tuned on.

Importance (what feedback teaches) as a ranking signal, after the rows above: simulated usage gives feedback
through the service's own API (`POST /{agent}/context`, then `POST /feedback`: the surfaced memories that are
relevant were used in a good turn; when none was, the turn went badly with all of them), then the same
queries are scored with IMPORTANCE_WEIGHT 0 and each weight in IMPORTANCE_WEIGHTS. SciFact gives feedback on
its training queries and is scored on its test queries; Cranfield, which has one split, gives feedback on
half its queries (odd positions by id) and is scored on the other half. Importance is reset to its default
before and after, so the stored collection stays as loaded.

nDCG@10 (linear gains, as trec_eval) comes from requests with limit=10 and recall@100 from requests with
limit=100, because the service reads each arm max(depth, limit) deep, as a client asking for 10 would.
"""

import argparse
import asyncio
import heapq
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from nova_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = {"scifact": Path("ir") / "scifact", "cranfield": Path("ir-holdout") / "cranfield"}
TOKEN = "bench-service-token-" + uuid.uuid4().hex
HEADERS = {"X-Service-Token": TOKEN}
BULK_SIZE = 250
CONCURRENCY = 4
K_NDCG = 10
K_RECALL = 100
ARM_DEPTH = 200  # the API's largest limit: how deep each arm is read for the offline fusion grid

# The settings the service shipped with before this evaluation: RRF k=60, equal weights, ts_rank
# (normalisation 1) over the OR of the query's lexemes, 100 candidates per arm.
PREVIOUS_DEFAULT = {
    "FUSION_DEFAULT": "rrf",
    "FUSION_VECTOR_WEIGHT": "0.5",
    "RRF_K": "60",
    "DENSE_CANDIDATES": "100",
    "KEYWORD_CANDIDATES": "100",
    "KEYWORD_QUERY": "any",
    "KEYWORD_RANK": "ts_rank",
    "KEYWORD_RANK_NORMALIZATION": "1",
}


def _ts(rank: str, norm: int, query: str = "any") -> dict[str, str]:
    return {"KEYWORD_RANK": rank, "KEYWORD_RANK_NORMALIZATION": str(norm), "KEYWORD_QUERY": query}


def _bm25(k1: float, b: float) -> dict[str, str]:
    return {"KEYWORD_RANK": "bm25", "BM25_K1": str(k1), "BM25_B": str(b), "KEYWORD_QUERY": "any"}


KEYWORD_VARIANTS: dict[str, dict[str, str]] = {
    **{f"ts_rank n={n}": _ts("ts_rank", n) for n in (0, 1, 2, 8, 16, 32)},
    **{f"ts_rank_cd n={n}": _ts("ts_rank_cd", n) for n in (0, 1, 4)},
    "ts_rank n=1 all terms": _ts("ts_rank", 1, "all"),
    "ts_rank n=1 websearch": _ts("ts_rank", 1, "websearch"),
    **{f"bm25 k1={k1} b={b}": _bm25(k1, b) for k1, b in ((0.9, 0.4), (1.2, 0.5), (1.2, 0.75), (1.5, 0.75))},
}
QUICK_KEYWORD_VARIANTS = ("ts_rank n=1", "ts_rank n=1 websearch", "bm25 k1=0.9 b=0.4", "bm25 k1=1.2 b=0.75")
FUSION_FAMILIES = ("rrf", "weighted min_max", "weighted z_score", "weighted rank")
FUSION_KEYWORD_ARMS = 3
IMPORTANCE_WEIGHTS = (0.05, 0.1, 0.2, 0.3)
CONTEXT_TOKENS = 2000  # what a chat turn's context holds: a handful of abstracts  # the best keyword variants (by nDCG@10 alone) that the fusion grid combines


@dataclass
class Collection:
    name: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, dict[str, int]]]  # split -> query -> doc -> gain

    def split(self, name: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        qrels = self.qrels[name]
        return {q: self.queries[q] for q in qrels if q in self.queries}, qrels


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
            # The cluster keeps the password it was created with: a random one per run could never reopen it.
            password_file = workdir / "pg-password"
            if not password_file.exists():
                password_file.touch(mode=0o600)
                password_file.write_text(secrets.token_urlsafe(24))
            password = password_file.read_text().strip()
            pg = EmbeddedPostgres(data_dir=workdir / "pg", port=free_port(), password=password)
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
    with log_path.open("ab") as log:
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


@dataclass
class Services:
    """What every memory-service process of one collection shares; `settings` are the ones under test."""

    collection: Collection
    base_env: dict[str, str]
    log_path: Path

    @asynccontextmanager
    async def run(
        self, settings: dict[str, str], *, loading: bool = False
    ) -> AsyncIterator[httpx.AsyncClient]:
        """A memory-service process with `settings`, once its keyword statistics cover the collection.

        `loading`: the collection is about to be stored, so statistics covering it cannot exist yet (waiting
        for them here is what made a fresh run sit idle before its first bulk); the caller waits after storing."""
        env = {**self.base_env, **settings}
        with service_process("memory_service", env, self.log_path, free_port()) as url:
            async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=300) as client:
                if not loading:
                    await wait_for_keyword_statistics(client, len(self.collection.corpus))
                yield client


async def wait_for_keyword_statistics(client: httpx.AsyncClient, documents: int) -> None:
    """The statistics loop runs at start; BM25 without them would weigh every word the same."""
    for _ in range(600):
        details = (await client.get("/health/ready")).json().get("details", {})
        result = details.get("maintenance", {}).get("keyword_statistics", {}).get("last_result", {})
        if result.get("documents", -1) >= documents:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("memory-service did not build its keyword statistics")


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
            print(f"  stored {start + len(batch)}/{len(items)}", flush=True)
        for _ in range(3600):  # the backlog loop catches up; two hours at most
            if not await conn.fetchval("SELECT count(*) FROM memories WHERE embedding_model IS NULL"):
                break
            await asyncio.sleep(2)
        elapsed = time.perf_counter() - started
        rate = f" ({len(items) / elapsed:.2f} docs/s, embedding included)" if items else ""
        print(f"  stored {len(items)} documents ({len(stored)} were already there) in {elapsed:.0f}s{rate}")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Hit:
    doc: str
    memory_id: str
    score: float  # the arm's own score: cosine for dense, the keyword rank for keyword


Run = dict[str, list[Hit]]  # query id -> hits, best first


async def search_all(
    client: httpx.AsyncClient, queries: dict[str, str], body: dict[str, Any], limit: int
) -> tuple[Run, list[float]]:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    run: Run = {}
    latencies: list[float] = []

    async def one(qid: str, text: str) -> None:
        async with semaphore:
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/memories/search", json={"query": text[:10_000], "limit": limit, **body}
            )
            latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        payload = response.json()
        if payload["keyword_only_fallback"]:
            raise RuntimeError("search fell back to keywords: embeddings unavailable")
        run[qid] = [
            Hit(
                h["memory"]["metadata"]["doc_id"],
                h["memory"]["id"],
                h["keyword_score"] if h["vector_score"] is None else h["vector_score"],
            )
            for h in payload["hits"]
        ]

    await asyncio.gather(*(one(qid, text) for qid, text in queries.items()))
    return run, latencies


def ndcg(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    return statistics.fmean(ndcg_at(run.get(q, []), qrels[q], K_NDCG) for q in qrels)


def recall(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    return statistics.fmean(recall_at(run.get(q, []), qrels[q], K_RECALL) for q in qrels)


def docs_of(run: Run) -> dict[str, list[str]]:
    return {q: [h.doc for h in hits] for q, hits in run.items()}


@dataclass
class Row:
    label: str
    ndcg: float
    recall: float
    p50_ms: float
    note: str = ""


async def measure(client: httpx.AsyncClient, collection: Collection, split: str, body: dict[str, Any]) -> Row:
    """nDCG@10 from limit=10 requests, recall@100 from limit=100 requests: what a client asking for that
    many would get."""
    queries, qrels = collection.split(split)
    top10, latencies = await search_all(client, queries, body, K_NDCG)
    top100, _ = await search_all(client, queries, body, K_RECALL)
    return Row("", ndcg(docs_of(top10), qrels), recall(docs_of(top100), qrels), statistics.median(latencies))


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"  {'method':<66} {'nDCG@10':>8} {'R@100':>8} {'p50 ms':>8}")
    for row in rows:
        note = f"  {row.note}" if row.note else ""
        print(f"  {row.label:<66} {row.ndcg:>8.4f} {row.recall:>8.4f} {row.p50_ms:>8.1f}{note}")


# --- offline fusion: the service's formulas over the two arms' lists ----------------------------------


@dataclass(frozen=True)
class Fusion:
    method: str  # "rrf" or "weighted"
    weight: float
    dense_depth: int
    keyword_depth: int
    rrf_k: int = 60
    normalization: str = "min_max"

    @property
    def family(self) -> str:
        return "rrf" if self.method == "rrf" else f"weighted {self.normalization}"

    @property
    def label(self) -> str:
        detail = f"k={self.rrf_k}" if self.method == "rrf" else self.normalization
        return f"{self.method} {detail} w={self.weight:.2f} depth {self.dense_depth}/{self.keyword_depth}"

    def settings(self) -> dict[str, str]:
        return {
            "FUSION_DEFAULT": self.method,
            "FUSION_VECTOR_WEIGHT": str(self.weight),
            "RRF_K": str(self.rrf_k),
            "FUSION_SCORE_NORMALIZATION": self.normalization,
            "DENSE_CANDIDATES": str(self.dense_depth),
            "KEYWORD_CANDIDATES": str(self.keyword_depth),
        }


def _arm_scores(hits: list[Hit], depth: int, fusion: Fusion) -> tuple[dict[str, float], float]:
    """Each candidate's normalised share of one arm as memories/search.py computes it, and the value a
    document absent from the arm gets (0, or the arm's minimum z-score)."""
    hits = hits[:depth]
    if not hits:
        return {}, 0.0
    if fusion.method == "rrf":
        return {h.doc: 1.0 / (fusion.rrf_k + rank) for rank, h in enumerate(hits, start=1)}, 0.0
    if fusion.normalization == "rank":
        return {h.doc: 1.0 - (rank - 1) / len(hits) for rank, h in enumerate(hits, start=1)}, 0.0
    scores = [h.score for h in hits]
    low, high = min(scores), max(scores)
    if fusion.normalization == "z_score":
        mean, std = statistics.fmean(scores), statistics.pstdev(scores)
        if std == 0:
            return {h.doc: 1.0 for h in hits}, 0.0
        return {h.doc: (h.score - mean) / std for h in hits}, (low - mean) / std
    return {h.doc: (h.score - low) / (high - low) if high > low else 1.0 for h in hits}, 0.0


def fuse(dense: list[Hit], keyword: list[Hit], fusion: Fusion, limit: int) -> list[str]:
    """The top `limit` documents of one query; each arm read max(depth, limit) deep, like the service.
    (The service then squashes z-score sums by a logistic and scales RRF: neither changes the order.)"""
    vs, v_absent = _arm_scores(dense, max(fusion.dense_depth, limit), fusion)
    ks, k_absent = _arm_scores(keyword, max(fusion.keyword_depth, limit), fusion)
    w = fusion.weight
    ids = {h.doc: h.memory_id for h in dense} | {h.doc: h.memory_id for h in keyword}
    fused = {d: w * vs.get(d, v_absent) + (1 - w) * ks.get(d, k_absent) for d in vs.keys() | ks.keys()}
    # Ties broken by memory id, as the SQL orders by (score DESC, id).
    return [d for d, _ in heapq.nsmallest(limit, fused.items(), key=lambda kv: (-kv[1], ids[kv[0]]))]


def fused_ndcg(dense: Run, keyword: Run, fusion: Fusion, qrels: dict[str, dict[str, int]]) -> float:
    return ndcg({q: fuse(dense.get(q, []), keyword.get(q, []), fusion, K_NDCG) for q in qrels}, qrels)


def fused_recall(dense: Run, keyword: Run, fusion: Fusion, qrels: dict[str, dict[str, int]]) -> float:
    return recall({q: fuse(dense.get(q, []), keyword.get(q, []), fusion, K_RECALL) for q in qrels}, qrels)


def fusion_grid(quick: bool) -> list[Fusion]:
    depths = [(d, k) for d in (50, 100, 200) for k in (50, 100, 200)]
    weights = [0.3, 0.5, 0.7] if quick else [round(0.2 + 0.1 * i, 1) for i in range(7)]
    if quick:
        depths = [(100, 100), (200, 200)]
    grid = [
        Fusion("rrf", w, d, k, rrf_k=rk)
        for rk in ((10, 60) if quick else (5, 10, 20, 40, 60, 100))
        for w in weights
        for d, k in depths
    ]
    grid += [
        Fusion("weighted", w, d, k, normalization=n)
        for n in ("min_max", "z_score", "rank")
        for w in weights
        for d, k in depths
    ]
    return grid


# --- the evaluation -------------------------------------------------------------------------------


Config = tuple[str, dict[str, str], dict[str, Any]]  # label, service settings, request fields


@dataclass
class Tuned:
    """What tuning on SciFact train chose: the best keyword arm alone and the best setting per fusion."""

    keyword: tuple[str, dict[str, str]] = ("", {})
    fusions: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # family -> label, settings
    chosen: str = ""  # the family with the best train nDCG@10

    def configs(self) -> list[Config]:
        name, settings = self.keyword
        configs: list[Config] = [("dense", {}, {"fusion": "dense"})]
        configs.append((f"keyword {name}", settings, {"fusion": "keyword"}))
        configs += [(label, s, {"fusion": s["FUSION_DEFAULT"]}) for label, s in self.fusions.values()]
        return configs


async def tune(services: Services, quick: bool) -> Tuned:
    collection = services.collection
    queries, qrels = collection.split("train")
    print(f"\n-- tuning on {collection.name} train ({len(qrels)} queries)")
    variants = {n: KEYWORD_VARIANTS[n] for n in QUICK_KEYWORD_VARIANTS} if quick else KEYWORD_VARIANTS
    keyword_runs: dict[str, Run] = {}
    rows: list[Row] = []
    for name, settings in variants.items():
        async with services.run(settings) as client:
            run, latencies = await search_all(client, queries, {"fusion": "keyword"}, ARM_DEPTH)
        keyword_runs[name] = run
        rows.append(
            Row(
                f"keyword {name}",
                ndcg(docs_of(run), qrels),
                recall(docs_of(run), qrels),
                statistics.median(latencies),
            )
        )
        print(f"  keyword {name:<30} nDCG@10 {rows[-1].ndcg:.4f}  R@100 {rows[-1].recall:.4f}", flush=True)
    async with services.run({}) as client:
        dense, latencies = await search_all(client, queries, {"fusion": "dense"}, ARM_DEPTH)
    rows.append(
        Row("dense", ndcg(docs_of(dense), qrels), recall(docs_of(dense), qrels), statistics.median(latencies))
    )
    print_table("keyword arm variants and dense, each read 200 deep (nDCG@10 of the top 10)", rows)

    ranked = sorted(keyword_runs, key=lambda n: -ndcg(docs_of(keyword_runs[n]), qrels))
    tuned = Tuned(keyword=(ranked[0], variants[ranked[0]]))
    grid = fusion_grid(quick)
    started = time.perf_counter()
    scored: list[tuple[float, str, Fusion]] = []
    for name in ranked[:FUSION_KEYWORD_ARMS]:
        for fusion in grid:
            scored.append((fused_ndcg(dense, keyword_runs[name], fusion, qrels), name, fusion))
    print(
        f"\n  fusion grid: {len(grid)} settings x {min(FUSION_KEYWORD_ARMS, len(ranked))} keyword arms "
        f"scored offline in {time.perf_counter() - started:.0f}s"
    )
    scored.sort(key=lambda s: -s[0])
    for family in FUSION_FAMILIES:
        print(f"\n  best {family} settings (offline, train nDCG@10):")
        best = [s for s in scored if s[2].family == family][:5]
        for value, name, fusion in best:
            r = fused_recall(dense, keyword_runs[name], fusion, qrels)
            print(f"    {value:.4f}  R@100 {r:.4f}  {fusion.label} + keyword {name}")
        _, name, fusion = best[0]
        tuned.fusions[family] = (f"{fusion.label} + {name}", {**variants[name], **fusion.settings()})
    _, top_name, top = scored[0]
    tuned.chosen = top.family
    # How flat is the optimum? The winner with other weights and depths, everything else equal.
    print(f"\n  around the winner ({top.label} + keyword {top_name}), train nDCG@10:")
    for w in [round(0.2 + 0.1 * i, 1) for i in range(7)]:
        other = replace(top, weight=w)
        print(f"    w={w:.1f}  {fused_ndcg(dense, keyword_runs[top_name], other, qrels):.4f}")
    for d, k in ((50, 50), (100, 100), (200, 200), (100, 200), (200, 100)):
        other = replace(top, dense_depth=d, keyword_depth=k)
        print(f"    depth {d}/{k}  {fused_ndcg(dense, keyword_runs[top_name], other, qrels):.4f}")

    # The winners through the API: the offline formulas must agree with the service's SQL.
    verify: list[Row] = []
    for label, settings in tuned.fusions.values():
        async with services.run(settings) as client:
            row = await measure(client, collection, "train", {"fusion": settings["FUSION_DEFAULT"]})
        row.label = label
        verify.append(row)
    print_table(f"{collection.name} train, the tuned fusions through the API", verify)
    print(f"\n  chosen: {tuned.chosen} with {json.dumps(tuned.fusions[tuned.chosen][1])}")
    return tuned


async def report(services: Services, split: str, tuned: Tuned | None) -> list[Row]:
    """Every method on `split`: with the tuned settings (if any), the previous default, and the service
    exactly as configured by default (no settings given, no fusion named in the request)."""
    if tuned is not None:
        configs = tuned.configs()
    else:
        configs = [("dense", {}, {"fusion": "dense"})]
        configs += [
            (f"{m} with the service's default settings", {}, {"fusion": m}) for m in ("rrf", "weighted")
        ]
    configs += [
        ("keyword with the service's default settings", {}, {"fusion": "keyword"}),
        ("keyword ts_rank n=1 (previous default)", PREVIOUS_DEFAULT, {"fusion": "keyword"}),
        ("rrf k=60 w=0.5 + ts_rank (previous default)", PREVIOUS_DEFAULT, {}),
        ("service default (no settings, no fusion)", {}, {}),
    ]
    rows: list[Row] = []
    for label, settings, body in configs:
        async with services.run(settings) as client:
            row = await measure(client, services.collection, split, body)
        row.label = label
        rows.append(row)
        print(f"  {label:<66} nDCG@10 {row.ndcg:.4f}  R@100 {row.recall:.4f}", flush=True)
    return rows


async def reset_importance(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("UPDATE memories SET importance = 0.5 WHERE importance <> 0.5")
        await conn.execute("DELETE FROM retrievals")
    finally:
        await conn.close()


async def give_feedback(
    client: httpx.AsyncClient, db_url: str, queries: dict[str, str], qrels: dict[str, dict[str, int]]
) -> tuple[int, int]:
    """One simulated turn per query through the API; returns (good turns, bad turns)."""
    conn = await asyncpg.connect(db_url)
    try:
        doc_of = {
            str(r["id"]): r["d"]
            for r in await conn.fetch("SELECT id, metadata->>'doc_id' AS d FROM memories")
        }
    finally:
        await conn.close()
    semaphore = asyncio.Semaphore(CONCURRENCY)
    outcomes = {"success": 0, "failure": 0}

    async def turn(qid: str, text: str) -> None:
        async with semaphore:
            response = await client.post(
                "/api/v1/memories/bench/context",
                json={"query": text[:10_000], "token_budget": CONTEXT_TOKENS},
            )
            response.raise_for_status()
            context = response.json()
            surfaced = [str(i) for i in context["memory_ids"]]
            if not surfaced or context["retrieval_id"] is None:
                return
            used = [m for m in surfaced if doc_of.get(m) in qrels.get(qid, {})]
            outcome = "success" if used else "failure"
            body = {
                "retrieval_id": context["retrieval_id"],
                "used_memory_ids": used or surfaced,
                "outcome": outcome,
            }
            (await client.post("/api/v1/memories/feedback", json=body)).raise_for_status()
            outcomes[outcome] += 1

    await asyncio.gather(*(turn(qid, text) for qid, text in queries.items()))
    return outcomes["success"], outcomes["failure"]


async def importance_report(services: Services, db_url: str) -> list[Row]:
    """nDCG@10 with and without the importance signal after simulated feedback (see the top of the file)."""
    collection = services.collection
    if "train" in collection.qrels:
        feedback_queries, feedback_qrels = collection.split("train")
        scored = collection
        split = "test"
    else:
        queries, qrels = collection.split("test")
        ids = sorted(qrels, key=lambda q: (len(q), q))
        feedback_ids, scored_ids = set(ids[1::2]), set(ids[0::2])
        feedback_queries = {q: queries[q] for q in feedback_ids if q in queries}
        feedback_qrels = {q: qrels[q] for q in feedback_ids}
        split = "held-out half"
        scored = Collection(
            collection.name,
            collection.corpus,
            collection.queries,
            {**collection.qrels, split: {q: qrels[q] for q in scored_ids}},
        )
    rows: list[Row] = []
    await reset_importance(db_url)
    try:
        async with services.run({}) as client:
            good, bad = await give_feedback(client, db_url, feedback_queries, feedback_qrels)
        print(f"  feedback: {good} good and {bad} bad turns from {len(feedback_queries)} queries", flush=True)
        for weight in (0.0, *IMPORTANCE_WEIGHTS):
            async with services.run({"IMPORTANCE_WEIGHT": str(weight)}) as client:
                row = await measure(client, scored, split, {})
            row.label = f"service default, importance weight {weight}" + (" (today)" if weight == 0 else "")
            rows.append(row)
            print(f"  {row.label:<66} nDCG@10 {row.ndcg:.4f}  R@100 {row.recall:.4f}", flush=True)
    finally:
        await reset_importance(db_url)
    print_table(
        f"{collection.name} {split} ({len(scored.qrels[split])} queries), importance after feedback", rows
    )
    return rows


async def evaluate(args: argparse.Namespace) -> None:
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    async with infrastructure(args.workdir) as (pg_url, redis_url):
        gateway_env = {"REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
        with service_process(
            "llm_gateway", gateway_env, args.workdir / "gateway.log", free_port()
        ) as gateway:
            tuned: Tuned | None = None
            for name, tunable in (("scifact", True), ("cranfield", False)):
                if args.only and name != args.only:
                    continue
                path = args.data / COLLECTIONS[name]
                collection_started = time.perf_counter()
                collection = load_collection(path, name)
                print(f"\n== {name}: {len(collection.corpus)} documents", flush=True)
                db_url = await fresh_database(pg_url, f"eval_{name}", reuse=True)
                services = Services(
                    collection,
                    {
                        "DATABASE_URL": db_url,
                        "REDIS_URL": redis_url,
                        "LLM_GATEWAY_URL": gateway,
                        "LOG_LEVEL": "WARNING",
                        # Compaction would merge near-duplicate abstracts and change the collection.
                        "COMPACTION_ENABLED": "false",
                        "EMBEDDING_BATCH_SIZE": "16",
                        # MiniLM: about 12 full-length abstracts/s on two idle cores, fewer on busy ones.
                        "EMBEDDING_TIMEOUT_SECONDS": "900",
                        "EMBEDDING_BACKLOG_INTERVAL_SECONDS": "2",
                    },
                    args.workdir / f"memory-{name}.log",
                )
                async with services.run({}, loading=True) as client:
                    await load(client, db_url, collection)
                    await wait_for_keyword_statistics(client, len(collection.corpus))
                if tunable and not args.no_tune:
                    tuned = await tune(services, args.quick)
                split = "test"
                print(f"\n-- {name} {split} ({len(collection.qrels[split])} queries)", flush=True)
                rows = await report(services, split, tuned)
                print_table(f"{name} {split} ({len(collection.qrels[split])} queries)", rows)
                if not args.no_importance:
                    await importance_report(services, db_url)
                print(f"  {name}: {time.perf_counter() - collection_started:.0f}s wall")
    print(f"\ntotal wall time {time.perf_counter() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer keyword variants, coarser fusion grid")
    parser.add_argument("--no-tune", action="store_true", help="report with the service's defaults only")
    parser.add_argument("--only", choices=["scifact", "cranfield"], help="evaluate one collection")
    parser.add_argument(
        "--no-importance", action="store_true", help="skip the rows with and without the importance signal"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nova-retrieval-eval",
        help="where the embedded PostgreSQL keeps the stored (embedded) collections between runs",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=os.environ.get("NOVA_EVAL_DATA"),
        help="directory with ir/scifact and ir-holdout/cranfield in BEIR layout (default: $NOVA_EVAL_DATA)",
    )
    args = parser.parse_args()
    missing = [
        name
        for name in COLLECTIONS
        if not args.only or name == args.only
        if args.data is None or not (Path(args.data) / COLLECTIONS[name] / "corpus.jsonl").is_file()
    ]
    if missing:
        where = "no --data directory given" if args.data is None else f"not found under {args.data}"
        parser.exit(
            2,
            f"retrieval_eval: {', '.join(missing)} {where}. Download the collections (see the top of "
            f"{Path(__file__).name}) and pass --data DIR or set NOVA_EVAL_DATA.\n",
        )
    args.data = Path(args.data)
    asyncio.run(evaluate(args))


if __name__ == "__main__":
    main()
