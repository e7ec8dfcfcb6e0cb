"""Embeddings through three cache levels: Redis (L1), the `embedding_cache` table (L2), the gateway (L3).

Both caches are keyed by the SHA-256 of the text *and* the target (model, dimension), so a model change
can never serve an old model's vector as a new one. Misses are written through to both levels. Redis
is only an accelerator: when it fails the lookup goes on to Postgres.
"""

import asyncio
import base64
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from memory_service.clients.llm_gateway import EmbeddingUnavailable, MemoryGatewayClient
from memory_service.db.engine import Sessions
from memory_service.embeddings import repository
from memory_service.embeddings.repository import EmbeddingTarget

log = structlog.get_logger("memory_service.embeddings")

L1_PREFIX = "nova:memory:embedding"

__all__ = ["EmbeddedText", "EmbeddingUnavailable", "MemoryEmbedder", "content_hash"]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def l1_key(target: EmbeddingTarget, digest: str) -> str:
    return f"{L1_PREFIX}:{target.model}:{target.dim}:{digest}"


def _pack(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _unpack(value: str | bytes) -> list[float]:
    return np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()


@dataclass(frozen=True)
class EmbeddedText:
    vector: list[float]
    model: str
    dim: int


@dataclass
class CacheCounters:
    redis_hits: int = 0
    postgres_hits: int = 0
    gateway_calls: int = 0
    gateway_texts: int = 0
    gateway_failures: int = 0


class MemoryEmbedder:
    def __init__(
        self,
        sessions: Sessions,
        redis: aioredis.Redis,
        gateway: MemoryGatewayClient,
        *,
        model: str | None,
        dimensions: int | None,
        batch_size: int,
        ttl_seconds: int,
        retry_after_seconds: float = 0.0,
    ) -> None:
        self.sessions = sessions
        self.redis = redis
        self.gateway = gateway
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.ttl_seconds = ttl_seconds
        self.retry_after_seconds = retry_after_seconds
        self._unavailable_until = 0.0
        self.target: EmbeddingTarget | None = None
        self.counters = CacheCounters()
        self.last_failure: str | None = None
        # Set by the backlog: told when the gateway answers with a (model, dimension) we did not expect.
        self.on_new_target: Callable[[EmbeddingTarget], Awaitable[None]] | None = None

    async def embed(self, texts: list[str]) -> list[EmbeddedText]:
        """One vector per text, in order. Raises EmbeddingUnavailable when the gateway is needed and down."""
        digests = [content_hash(t) for t in texts]
        text_of = dict(zip(digests, texts, strict=True))
        found: dict[str, EmbeddedText] = {}
        target = self.target
        if target is not None:
            found.update(await self._from_redis(list(text_of), target))
            missing = [d for d in text_of if d not in found]
            if missing:
                from_pg = await self._from_postgres(missing, target)
                found.update(from_pg)
                await self._to_redis(from_pg)
        missing = [d for d in text_of if d not in found]
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            found.update(await self._from_gateway(batch, [text_of[d] for d in batch]))
        return [found[d] for d in digests]

    async def _from_redis(self, digests: list[str], target: EmbeddingTarget) -> dict[str, EmbeddedText]:
        try:
            values = await self.redis.mget([l1_key(target, d) for d in digests])
        except RedisError as exc:
            log.warning("embedding_l1_unavailable", error=str(exc))
            return {}
        hits = {
            d: EmbeddedText(_unpack(v), target.model, target.dim)
            for d, v in zip(digests, values, strict=True)
            if v is not None
        }
        self.counters.redis_hits += len(hits)
        return hits

    async def _to_redis(self, embedded: dict[str, EmbeddedText]) -> None:
        if not embedded:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for digest, item in embedded.items():
                    key = l1_key(EmbeddingTarget(item.model, item.dim), digest)
                    pipe.set(key, _pack(item.vector), ex=self.ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("embedding_l1_unavailable", error=str(exc))

    async def _from_postgres(self, digests: list[str], target: EmbeddingTarget) -> dict[str, EmbeddedText]:
        async with self.sessions() as session:
            rows = await repository.cached_vectors(session, digests, target)
        self.counters.postgres_hits += len(rows)
        return {d: EmbeddedText(list(v), target.model, target.dim) for d, v in rows.items()}

    async def _from_gateway(self, digests: list[str], texts: list[str]) -> dict[str, EmbeddedText]:
        if time.monotonic() < self._unavailable_until:
            raise EmbeddingUnavailable(f"llm-gateway failed recently: {self.last_failure}")
        self.counters.gateway_calls += 1
        self.counters.gateway_texts += len(texts)
        try:
            response = await self.gateway.embed(texts, model=self.model, dimensions=self.dimensions)
        except EmbeddingUnavailable as exc:
            self.counters.gateway_failures += 1
            self.last_failure = str(exc)
            self._unavailable_until = time.monotonic() + self.retry_after_seconds
            raise
        self.last_failure = None
        seen = EmbeddingTarget(response.model, response.dimensions)
        if seen != self.target:
            await self.adopt(seen)
        embedded = {
            d: EmbeddedText(vector, seen.model, seen.dim)
            for d, vector in zip(digests, response.embeddings, strict=True)
        }
        entries: list[dict[str, Any]] = [
            {"content_hash": d, "model": e.model, "dim": e.dim, "embedding": e.vector}
            for d, e in embedded.items()
        ]
        async with self.sessions.begin() as session:
            await repository.cache_vectors(session, entries)
        await self._to_redis(embedded)
        return embedded

    async def adopt(self, target: EmbeddingTarget) -> None:
        previous, self.target = self.target, target
        if previous is not None:
            log.warning("embedding_model_changed", old=asdict(previous), new=asdict(target))
        if self.on_new_target is not None:
            await self.on_new_target(target)

    async def probe(self, wait_seconds: float) -> EmbeddingTarget | None:
        """Ask the gateway which (model, dimension) it embeds with now; None when it does not answer."""
        try:
            response = await asyncio.wait_for(
                self.gateway.embed(["memory-service probe"], model=self.model, dimensions=self.dimensions),
                wait_seconds,
            )
        except (EmbeddingUnavailable, TimeoutError) as exc:
            self.last_failure = str(exc) or type(exc).__name__
            log.info("embedding_probe_failed", error=self.last_failure)
            return None
        seen = EmbeddingTarget(response.model, response.dimensions)
        if seen != self.target:
            await self.adopt(seen)
        return seen

    def details(self) -> dict[str, Any]:
        target = asdict(self.target) if self.target else None
        return {"target": target, "cache": asdict(self.counters), "last_failure": self.last_failure}
