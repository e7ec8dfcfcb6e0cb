"""API-key checks for WebSocket clients, answered by the orchestrator and cached briefly."""

import hashlib
import time

from chat_api.clients.orchestrator import OrchestratorClient
from nova_common.auth import API_KEY_PREFIX
from nova_contracts.orchestrator import ApiKeyValidation

MAX_CACHED_KEYS = 10_000


class KeyValidator:
    """Only valid answers are cached, so a key created a second ago works at once; a revoked one stops
    working within `cache_seconds`."""

    def __init__(self, client: OrchestratorClient, *, cache_seconds: float) -> None:
        self._client = client
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKeyValidation]] = {}

    async def validate(self, raw_key: str) -> ApiKeyValidation:
        """Raises `OrchestratorUnavailable` when the orchestrator cannot be asked and nothing is cached."""
        if not raw_key.startswith(API_KEY_PREFIX):
            return ApiKeyValidation(valid=False)
        digest = hashlib.sha256(raw_key.encode()).hexdigest()
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        result = await self._client.validate_key(raw_key)
        if result.valid and self._cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.clear()
            self._cache[digest] = (now + self._cache_seconds, result)
        return result
