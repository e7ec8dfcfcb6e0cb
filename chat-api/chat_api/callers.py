"""Who a WebSocket client is: an API key (checked by the orchestrator, cached briefly) or the admin secret."""

import hashlib
import time
from dataclasses import dataclass

from chat_api.clients.orchestrator import Credential, OrchestratorClient
from nova_common.auth import ADMIN_HEADER, API_KEY_PREFIX, AdminSecrets
from nova_contracts.orchestrator import ApiKeyValidation

MAX_CACHED_KEYS = 10_000
ADMIN_OWNER = "admin"
LOCAL_OWNER = "local"


@dataclass(frozen=True)
class Caller:
    """An authenticated client. `owner` is the tenant its sessions belong to (the platform's owner strings:
    "admin", "key:<uuid>", "local"); `credential` is the header chat-api forwards to the orchestrator on its
    behalf, None for a local caller admitted without one (REQUIRE_AUTH=false)."""

    owner: str
    credential: Credential | None = None


LOCAL_CALLER = Caller(owner=LOCAL_OWNER)


class CallerAuthenticator:
    """API keys: only valid answers are cached, so a key created a second ago works at once; a revoked one
    stops working within `cache_seconds`. The admin secret is checked by the kit (a rotated one included)."""

    def __init__(
        self, client: OrchestratorClient, admin_secrets: AdminSecrets, *, cache_seconds: float
    ) -> None:
        self._client = client
        self._admin_secrets = admin_secrets
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKeyValidation]] = {}

    async def authenticate(self, token: str) -> Caller | None:
        """The caller `token` proves, or None; raises `OrchestratorUnavailable` when a key cannot be checked."""
        if token.startswith(API_KEY_PREFIX):
            result = await self.validate_key(token)
            if not result.valid or result.key_id is None:
                return None
            return Caller(owner=f"key:{result.key_id}", credential=("X-API-Key", token))
        if await self._admin_secrets.check(token):
            return Caller(owner=ADMIN_OWNER, credential=(ADMIN_HEADER, token))
        return None

    async def validate_key(self, raw_key: str) -> ApiKeyValidation:
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
