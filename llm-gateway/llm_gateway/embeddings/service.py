"""Embedding rules: pick the model, serve what the content-hash cache holds, compute the rest, record usage."""

import asyncio
import base64
import hashlib
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import redis.asyncio as aioredis
import structlog

from llm_gateway.embeddings.minilm import DIMENSIONS, MODEL_NAME, MiniLMEncoder
from llm_gateway.usage.recorder import UsageRecorder
from nova_common.errors import BadRequest
from nova_contracts.llm import UsageRecord

log = structlog.get_logger("llm_gateway.embeddings")

LOCAL_MODEL_ALIASES = frozenset(
    {MODEL_NAME, MODEL_NAME.lower(), f"sentence-transformers/{MODEL_NAME}", f"local/{MODEL_NAME}"}
)
CACHE_PREFIX = "nova:cache:embed:"


@dataclass(frozen=True)
class EmbedResult:
    vectors: list[list[float]]
    model: str
    dimensions: int
    input_tokens: int
    cached_count: int


# (model, texts, dimensions) -> (vectors, input_tokens, provider slug); provided by the provider registry.
CloudEmbedder = Callable[[str, list[str], int | None], Awaitable[tuple[list[list[float]], int, str]]]


def _cache_key(model: str, dimensions: int | None, text: str) -> str:
    digest = hashlib.sha256(f"{model}\x00{dimensions or ''}\x00{text}".encode()).hexdigest()
    return CACHE_PREFIX + digest


def _pack(vector: list[float]) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _unpack(value: str) -> list[float]:
    return np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()


class EmbeddingEngine:
    def __init__(
        self,
        redis: aioredis.Redis,
        usage: UsageRecorder,
        *,
        default_model: str,
        cache_ttl: int,
        cloud: CloudEmbedder | None = None,
    ) -> None:
        self.redis = redis
        self.usage = usage
        self.default_model = default_model or MODEL_NAME
        self.cache_ttl = cache_ttl
        self.cloud = cloud
        # One thread: the encoder is CPU-bound and holds its own lock, so more threads would only queue.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minilm")
        self._encoder: asyncio.Future[MiniLMEncoder] | None = None

    def warm_up(self) -> "asyncio.Future[MiniLMEncoder]":
        """Start loading the local model in the background (about half a second of CPU)."""
        if self._encoder is None:
            loop = asyncio.get_running_loop()
            self._encoder = asyncio.ensure_future(loop.run_in_executor(self._executor, MiniLMEncoder))
        return self._encoder

    async def encoder(self) -> MiniLMEncoder:
        return await self.warm_up()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def is_local(model: str) -> bool:
        return model in LOCAL_MODEL_ALIASES

    async def embed(
        self,
        texts: list[str],
        *,
        model: str | None = None,
        dimensions: int | None = None,
        metadata: dict[str, object] | None = None,
        api_key_id: str | None = None,
    ) -> EmbedResult:
        started = time.perf_counter()
        model = model or self.default_model
        local = self.is_local(model)
        if local:
            model = MODEL_NAME
            if dimensions not in (None, DIMENSIONS):
                raise BadRequest(f"{MODEL_NAME} produces {DIMENSIONS}-dimensional vectors; omit `dimensions`")
        elif self.cloud is None:
            raise BadRequest(f"unknown embedding model {model!r}; the built-in one is {MODEL_NAME!r}")

        keys = [_cache_key(model, dimensions, text) for text in texts]
        cached = await self._cache_get(keys)
        missing = [i for i, vector in enumerate(cached) if vector is None]
        input_tokens = 0
        provider = "local" if local else model.split("/", 1)[0]
        if missing:
            todo = [texts[i] for i in missing]
            if local:
                encoder = await self.encoder()
                loop = asyncio.get_running_loop()
                array, input_tokens = await loop.run_in_executor(self._executor, encoder.encode, todo)
                fresh: list[list[float]] = array.tolist()
            elif self.cloud is not None:
                fresh, input_tokens, provider = await self.cloud(model, todo, dimensions)
            else:  # refused above; kept so the type checker sees `cloud` is set
                raise BadRequest(f"unknown embedding model {model!r}")
            for index, vector in zip(missing, fresh, strict=True):
                cached[index] = vector
            await self._cache_put({keys[i]: v for i, v in zip(missing, fresh, strict=True)})
        vectors = [v for v in cached if v is not None]
        dims = len(vectors[0])
        meta = metadata or {}
        self.usage.record(
            UsageRecord(
                provider=provider,
                model=model,
                input_tokens=input_tokens,
                output_tokens=0,
                cost_usd=0.0 if local else None,
                latency_ms=int((time.perf_counter() - started) * 1000),
                cache_hit=not missing,
                agent_id=_str_or_none(meta.get("agent_id")),
                task_id=_str_or_none(meta.get("task_id")),
                api_key_id=api_key_id or _str_or_none(meta.get("api_key_id")),
                kind="embedding",
            )
        )
        return EmbedResult(
            vectors=vectors,
            model=model,
            dimensions=dims,
            input_tokens=input_tokens,
            cached_count=len(texts) - len(missing),
        )

    async def _cache_get(self, keys: list[str]) -> list[list[float] | None]:
        if self.cache_ttl <= 0:
            return [None] * len(keys)
        try:
            values = await self.redis.mget(keys)
        except Exception as exc:  # the cache is an optimisation: a Redis failure means "compute"
            log.warning("embed_cache_read_failed", error=type(exc).__name__)
            return [None] * len(keys)
        return [_unpack(str(v)) if v else None for v in values]

    async def _cache_put(self, entries: dict[str, list[float]]) -> None:
        if self.cache_ttl <= 0 or not entries:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, vector in entries.items():
                pipe.set(key, _pack(vector), ex=self.cache_ttl)
            await pipe.execute()
        except Exception as exc:
            log.warning("embed_cache_write_failed", error=type(exc).__name__)


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
