"""Authentication dependencies: admin secret, `sk-nova-…` API keys, and the internal service token.

- Admin: `X-Admin-Secret`, compared in constant time. Always enforced, whatever `REQUIRE_AUTH` says.
- API key: `Authorization: Bearer sk-nova-…` or `X-API-Key`. Keys are stored only as SHA-256 hashes.
  `REQUIRE_AUTH=false` lets requests through without a key (a local, single-user install).
- Service: `X-Service-Token`, the shared secret services use on each other's internal routes.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from nova_common.config import NovaSettings
from nova_common.errors import NotConfigured, Unauthorized

API_KEY_PREFIX = "sk-nova-"
ADMIN_HEADER = "X-Admin-Secret"
SERVICE_HEADER = "X-Service-Token"

# Declared for the OpenAPI document (so /docs shows the lock icons); the checks below read headers themselves.
_admin_scheme = APIKeyHeader(name=ADMIN_HEADER, auto_error=False, scheme_name="AdminSecret")
_api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_service_scheme = APIKeyHeader(name=SERVICE_HEADER, auto_error=False, scheme_name="ServiceToken")


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    raw: str
    prefix: str
    key_hash: str


def generate_api_key() -> NewApiKey:
    raw = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(raw=raw, prefix=raw[: len(API_KEY_PREFIX) + 6], key_hash=hash_api_key(raw))


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    key_prefix: str
    rate_limit_rpm: int
    revoked_at: datetime | None = None
    expires_at: datetime | None = None


class ApiKeyStore(Protocol):
    """Where API keys are looked up: the orchestrator's table directly, or over HTTP from other services."""

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...


@dataclass(frozen=True)
class Principal:
    """Who is calling. `kind` is admin, api_key, service or anonymous (auth disabled)."""

    kind: str
    key: ApiKeyRecord | None = None


def _settings(request: Request) -> NovaSettings:
    settings: NovaSettings = request.app.state.settings
    return settings


def _matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _admin_ok(request: Request, settings: NovaSettings) -> bool:
    return settings.admin_secret_usable and _matches(
        request.headers.get(ADMIN_HEADER), settings.admin_secret.get_secret_value()
    )


async def require_admin(request: Request, _: str | None = Depends(_admin_scheme)) -> Principal:
    settings = _settings(request)
    if not settings.admin_secret_usable:
        raise NotConfigured(
            "admin access is disabled: NOVA_ADMIN_SECRET is unset or a well-known default "
            "(`make run` generates one into .env)"
        )
    given = request.headers.get(ADMIN_HEADER)
    if given is None:
        raise Unauthorized(f"missing {ADMIN_HEADER} header")
    if not _matches(given, settings.admin_secret.get_secret_value()):
        raise Unauthorized("invalid admin secret")
    return Principal(kind="admin")


async def require_service(request: Request, _: str | None = Depends(_service_scheme)) -> Principal:
    """Internal routes: another Nova service (service token) or the admin."""
    settings = _settings(request)
    token = request.headers.get(SERVICE_HEADER)
    if token is not None and settings.service_token_usable:
        if _matches(token, settings.service_token.get_secret_value()):
            return Principal(kind="service")
        raise Unauthorized("invalid service token")
    if _admin_ok(request, settings):
        return Principal(kind="admin")
    raise Unauthorized(f"this route is internal: send {SERVICE_HEADER} (or {ADMIN_HEADER})")


def extract_api_key(request: Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key") or None


async def require_api_key(request: Request, _: str | None = Depends(_api_key_scheme)) -> Principal:
    settings = _settings(request)
    raw = extract_api_key(request)
    if raw is None:
        if _admin_ok(request, settings):
            return Principal(kind="admin")
        if not settings.require_auth:
            return Principal(kind="anonymous")
        raise Unauthorized("missing API key: send Authorization: Bearer sk-nova-… or X-API-Key")
    if not raw.startswith(API_KEY_PREFIX):
        raise Unauthorized("malformed API key: Nova keys start with sk-nova-")
    store: ApiKeyStore | None = getattr(request.app.state, "api_key_store", None)
    if store is None:
        raise NotConfigured("API keys cannot be checked: this service has no key store")
    record = await store.find_by_hash(hash_api_key(raw))
    if record is None:
        raise Unauthorized("unknown API key")
    if record.revoked_at is not None:
        raise Unauthorized("API key revoked")
    if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
        raise Unauthorized("API key expired")
    request.state.api_key = record
    return Principal(kind="api_key", key=record)


AdminAuth = Annotated[Principal, Depends(require_admin)]
ServiceAuth = Annotated[Principal, Depends(require_service)]
ApiKeyAuth = Annotated[Principal, Depends(require_api_key)]
