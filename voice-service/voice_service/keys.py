"""API keys checked by the orchestrator, answers cached in Redis DB 9 for `API_KEY_CACHE_SECONDS`.

The same contract llm-gateway uses: `GET /api/v1/keys/validate?key_hash=<sha256>` with the service token;
only the hash travels. A revoked key stops working here within the cache time.
"""

import httpx
import redis.asyncio as aioredis
import structlog

from nova_common.auth import ApiKeyRecord
from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_contracts.orchestrator import ApiKeyValidation

log = structlog.get_logger("voice_service.keys")

CACHE_PREFIX = "nova:voice:apikey:"
VALIDATE_PATH = "/api/v1/keys/validate"
VALIDATE_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class OrchestratorKeyStore:
    """`nova_common.auth.ApiKeyStore` backed by the orchestrator's key table."""

    def __init__(self, orchestrator: ServiceClient, redis: aioredis.Redis, *, cache_seconds: int) -> None:
        self.orchestrator = orchestrator
        self.redis = redis
        self.cache_seconds = cache_seconds

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        validation = await self._cached(key_hash) or await self._ask_orchestrator(key_hash)
        if not validation.valid or validation.key_id is None:
            return None
        return ApiKeyRecord(
            id=str(validation.key_id),
            name=validation.name or "",
            key_prefix="",
            rate_limit_rpm=validation.rate_limit_rpm or 60,
        )

    async def _cached(self, key_hash: str) -> ApiKeyValidation | None:
        try:
            raw = await self.redis.get(CACHE_PREFIX + key_hash)
            return ApiKeyValidation.model_validate_json(raw) if raw else None
        except Exception as exc:
            log.warning("api_key_cache_read_failed", error=type(exc).__name__)
            return None

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
            validation = ApiKeyValidation(valid=False)
        elif response.status_code == 200:
            validation = ApiKeyValidation.model_validate_json(response.content)
        else:
            raise UpstreamUnavailable(
                f"cannot validate the API key: orchestrator answered {response.status_code}"
            )
        try:
            await self.redis.set(CACHE_PREFIX + key_hash, validation.model_dump_json(), ex=self.cache_seconds)
        except Exception as exc:
            log.warning("api_key_cache_write_failed", error=type(exc).__name__)
        return validation
