"""Who a WebSocket client is: an API key (checked by the orchestrator, cached briefly) or the admin secret."""

from dataclasses import dataclass

from chat_api.clients.orchestrator import Credential, OrchestratorUnavailable
from nova_common.auth import ADMIN_HEADER, API_KEY_PREFIX, AdminSecrets
from nova_common.credentials import RemoteKeyStore
from nova_common.errors import UpstreamUnavailable

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
    """API keys through the kit's `RemoteKeyStore` (the stack's one validation cache: a revoked key stops
    working within its bound); the admin secret is checked by the kit (a rotated one included)."""

    def __init__(self, keys: RemoteKeyStore, admin_secrets: AdminSecrets) -> None:
        self._keys = keys
        self._admin_secrets = admin_secrets

    async def authenticate(self, token: str) -> Caller | None:
        """The caller `token` proves, or None; raises `OrchestratorUnavailable` when a key cannot be checked."""
        if token.startswith(API_KEY_PREFIX):
            try:
                result = await self._keys.validate(token)
            except UpstreamUnavailable as exc:
                raise OrchestratorUnavailable(exc.detail) from exc
            if not result.valid or result.key_id is None:
                return None
            return Caller(owner=f"key:{result.key_id}", credential=("X-API-Key", token))
        if await self._admin_secrets.check(token):
            return Caller(owner=ADMIN_OWNER, credential=(ADMIN_HEADER, token))
        return None
