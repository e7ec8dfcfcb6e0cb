"""One credential check for the whole stack: API keys validated by hash, and one request window per key.

- **Validation.** The orchestrator owns the key table and checks it directly. Every other service asks it
  `GET /api/v1/keys/validate?key_hash=<sha256 hex>` (service token; only the hash travels) through
  `RemoteKeyStore`, which keeps each answer in a bounded in-process cache for at most `KEY_CACHE_SECONDS`
  (10 s by default). That is the stated revocation bound: a key revoked in the orchestrator is refused by
  every service within it. Unknown keys are remembered for a second or two only, so a key created a moment
  ago works at once while a flood of junk keys costs the orchestrator few lookups.
- **Rate limit.** A key's `rate_limit_rpm` is one sliding window for the whole stack, whichever service the
  request reaches: `KeyRateLimiter` counts in Redis DB 1 (the shared config DB) under
  `nova:ratelimit:apikey:<key id>`, so a key gets its limit once, not once per service.
"""

import time

import httpx
import redis.asyncio as aioredis

from nova_common.auth import ApiKeyRecord, hash_api_key
from nova_common.errors import BadRequest, RateLimited, UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_common.ratelimit import SlidingWindowLimiter
from nova_contracts.orchestrator import ApiKeyValidation

KEY_CACHE_SECONDS = 10.0
UNKNOWN_KEY_CACHE_SECONDS = 2.0
VALIDATE_PATH = "/api/v1/keys/validate"
VALIDATE_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
DEFAULT_RATE_LIMIT_RPM = 60
RATE_WINDOW_SECONDS = 60
# Distinct keys remembered per process; beyond it the oldest answer goes (bounds junk-key floods).
MAX_CACHED_KEYS = 10_000


def key_window(key_id: str) -> str:
    """The Redis key (DB 1) of one API key's request window, the same in every service."""
    return f"nova:ratelimit:apikey:{key_id}"


class RemoteKeyStore:
    """`nova_common.auth.ApiKeyStore` for services without the key table: asks the orchestrator by hash."""

    def __init__(
        self,
        orchestrator: ServiceClient,
        *,
        cache_seconds: float = KEY_CACHE_SECONDS,
        unknown_cache_seconds: float = UNKNOWN_KEY_CACHE_SECONDS,
    ) -> None:
        self.orchestrator = orchestrator
        self.cache_seconds = cache_seconds
        self.unknown_cache_seconds = min(unknown_cache_seconds, cache_seconds)
        # key hash -> (monotonic expiry, answer); dicts keep insertion order, so the first is the oldest.
        self._cache: dict[str, tuple[float, ApiKeyValidation]] = {}

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        validation = await self.validate_hash(key_hash)
        if not validation.valid or validation.key_id is None:
            return None
        return ApiKeyRecord(
            id=str(validation.key_id),
            name=validation.name or "",
            key_prefix="",
            rate_limit_rpm=validation.rate_limit_rpm or DEFAULT_RATE_LIMIT_RPM,
        )

    async def validate(self, raw_key: str) -> ApiKeyValidation:
        return await self.validate_hash(hash_api_key(raw_key))

    async def validate_hash(self, key_hash: str) -> ApiKeyValidation:
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        validation = await self._ask_orchestrator(key_hash)
        lifetime = self.cache_seconds if validation.valid else self.unknown_cache_seconds
        self._cache.pop(key_hash, None)
        if len(self._cache) >= MAX_CACHED_KEYS:
            del self._cache[next(iter(self._cache))]
        if lifetime > 0:
            self._cache[key_hash] = (now + lifetime, validation)
        return validation

    async def _ask_orchestrator(self, key_hash: str) -> ApiKeyValidation:
        try:
            response = await self.orchestrator.get(
                VALIDATE_PATH, params={"key_hash": key_hash}, timeout=VALIDATE_TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"cannot validate the API key: orchestrator {type(exc).__name__}"
            ) from exc
        # The orchestrator answers 200 for every well-formed question (`valid=false` says why a key is not
        # valid); anything else means it cannot answer, which must not read as "unknown key".
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"cannot validate the API key: orchestrator answered {response.status_code}"
            )
        return ApiKeyValidation.model_validate_json(response.content)


class KeyRateLimiter:
    """A key's requests per minute, counted once for the whole stack (Redis DB 1)."""

    def __init__(self, config_redis: aioredis.Redis) -> None:
        self.window = SlidingWindowLimiter(config_redis)

    async def admit(self, key: ApiKeyRecord, *, cost: int = 1) -> None:
        """Count `cost` requests of `key` (a batch counts one per item); `RateLimited` (429 with Retry-After)
        when its window has no room for all of them, `BadRequest` when they could never fit."""
        if key.rate_limit_rpm <= 0:
            return
        if cost > key.rate_limit_rpm:
            raise BadRequest(
                f"this counts as {cost} requests, more than API key {key.key_prefix or key.name or key.id}…'s "
                f"{key.rate_limit_rpm} requests/minute: send fewer at once"
            )
        admission = await self.window.admit(
            key_window(key.id), limit=key.rate_limit_rpm, window_seconds=RATE_WINDOW_SECONDS, cost=cost
        )
        if not admission.admitted:
            raise RateLimited(
                f"API key {key.key_prefix or key.name or key.id}… is over its {key.rate_limit_rpm} requests/minute",
                retry_after=admission.retry_after_seconds,
            )

    async def used(self, key_id: str) -> int:
        return await self.window.used(key_window(key_id), window_seconds=RATE_WINDOW_SECONDS)
