"""Who may call voice-service: an `sk-nova` key (held to its one window for the whole stack), the admin
secret (the dashboard), or another Nova service with the service token (chat-bridge, for voice messages).

A service names itself in `X-Nova-Caller`; the name is trusted only together with the service token and is
recorded on the request's log lines, so a transcription can be traced to the bridge that asked for it.
"""

import re
from dataclasses import dataclass

from starlette.requests import Request

from nova_common.auth import SERVICE_HEADER, Principal, require_api_key, require_service
from nova_common.credentials import KeyRateLimiter
from nova_contracts.llm import CALLER_HEADER

_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class VoiceCaller:
    principal: Principal
    name: str  # key:<id>, admin, local, or service:<name>


def caller_name(principal: Principal, claimed_service: str | None) -> str:
    if principal.kind == "api_key" and principal.key is not None:
        return f"key:{principal.key.id}"
    if principal.kind == "service":
        # Only a well-formed name reaches the logs: the header is the caller's own words.
        claimed = (claimed_service or "").strip().lower()
        return f"service:{claimed}" if _SERVICE_NAME.match(claimed) else "service"
    if principal.kind == "admin":
        return "admin"
    return "local"


async def identify_caller(request: Request, key_limiter: KeyRateLimiter) -> VoiceCaller:
    """The caller of a voice route, or `Unauthorized`/`RateLimited`. A request carrying the service token
    header is judged on it alone: a wrong token is refused, never retried as a key or the admin secret."""
    if request.headers.get(SERVICE_HEADER) is not None:
        principal = await require_service(request)
    else:
        principal = await require_api_key(request)
        if principal.key is not None:
            await key_limiter.admit(principal.key)
    return VoiceCaller(principal, caller_name(principal, request.headers.get(CALLER_HEADER)))
