"""API keys for `/v1/*`: validated by the orchestrator, cached in Redis, rate-limited per key.

The gateway has no database, so `OrchestratorKeyStore` asks
`GET {ORCHESTRATOR_URL}/api/v1/keys/validate?key_hash=<sha256 hex>` (with the service token) and reads an
`ApiKeyValidation`. Only the hash travels; the raw key never leaves the gateway. Answers, valid or not,
are cached in Redis DB 1 under `nova:auth:apikey:<hash>` for `API_KEY_CACHE_SECONDS` (60 s), so a revoked
key stops working within that time and a burst of requests costs the orchestrator one lookup. Each process
also keeps the answer in memory until that Redis entry expires (never longer), so a key in steady use costs
no Redis round trip for its validation either.
"""

import time

import httpx
import redis.asyncio as aioredis
import structlog

from nova_common.auth import ApiKeyRecord
from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_contracts.orchestrator import ApiKeyValidation

log = structlog.get_logger("llm_gateway.auth")

CACHE_PREFIX = "nova:auth:apikey:"
VALIDATE_PATH = "/api/v1/keys/validate"
VALIDATE_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
DEFAULT_RATE_LIMIT_RPM = 60
# Distinct keys remembered in memory per process; beyond it the oldest entry goes (bounds junk-key floods).
LOCAL_CACHE_ENTRIES = 10_000


class OrchestratorKeyStore:
    """`nova_common.auth.ApiKeyStore` backed by the orchestrator's key table."""

    def __init__(self, orchestrator: ServiceClient, redis: aioredis.Redis, *, cache_seconds: int) -> None:
        self.orchestrator = orchestrator
        self.redis = redis
        self.cache_seconds = cache_seconds
        # key hash -> (monotonic expiry, answer); dicts keep insertion order, so the first is the oldest.
        self._local: dict[str, tuple[float, ApiKeyValidation]] = {}

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        validation = await self._validation(key_hash)
        if not validation.valid or validation.key_id is None:
            return None
        return ApiKeyRecord(
            id=str(validation.key_id),
            name=validation.name or "",
            key_prefix="",
            rate_limit_rpm=validation.rate_limit_rpm or DEFAULT_RATE_LIMIT_RPM,
        )

    async def _validation(self, key_hash: str) -> ApiKeyValidation:
        now = time.monotonic()
        local = self._local.get(key_hash)
        if local is not None and local[0] > now:
            return local[1]
        validation, ttl_seconds = await self._cached(key_hash)
        if validation is None:
            validation = await self._ask_orchestrator(key_hash)
            ttl_seconds = self.cache_seconds
            try:
                await self.redis.set(
                    CACHE_PREFIX + key_hash, validation.model_dump_json(), ex=self.cache_seconds
                )
            except Exception as exc:
                log.warning("api_key_cache_write_failed", error=type(exc).__name__)
        self._local.pop(key_hash, None)
        if len(self._local) >= LOCAL_CACHE_ENTRIES:
            del self._local[next(iter(self._local))]
        self._local[key_hash] = (now + ttl_seconds, validation)
        return validation

    async def _cached(self, key_hash: str) -> tuple[ApiKeyValidation | None, float]:
        """The Redis entry and its remaining lifetime in seconds, read in one round trip."""
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(CACHE_PREFIX + key_hash)
            pipe.pttl(CACHE_PREFIX + key_hash)
            raw, ttl_ms = await pipe.execute()
            if not raw:
                return None, 0.0
            # -1: no expiry (not written by us); keep it in memory no longer than we would have cached it.
            ttl = self.cache_seconds if ttl_ms < 0 else min(ttl_ms / 1000, self.cache_seconds)
            return ApiKeyValidation.model_validate_json(raw), ttl
        except Exception as exc:
            log.warning("api_key_cache_read_failed", error=type(exc).__name__)
            return None, 0.0

    async def _ask_orchestrator(self, key_hash: str) -> ApiKeyValidation:
        try:
            response = await self.orchestrator.get(
                VALIDATE_PATH, params={"key_hash": key_hash}, timeout=VALIDATE_TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"cannot validate the API key: orchestrator {type(exc).__name__}"
            ) from exc
        if response.status_code == 404:
            return ApiKeyValidation(valid=False)
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"cannot validate the API key: orchestrator answered {response.status_code}"
            )
        return ApiKeyValidation.model_validate_json(response.content)
