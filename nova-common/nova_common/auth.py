"""Authentication dependencies: admin secret, `sk-nova-…` API keys, and the internal service token.

- Admin: `X-Admin-Secret`, compared in constant time. Always enforced, whatever `REQUIRE_AUTH` says. The
  secret in force is `NOVA_ADMIN_SECRET` until an admin rotates it (`AdminSecrets.rotate`); the rotated one
  lives in Redis DB 1 only as an HMAC keyed by the service token, and every service honours it within seconds.
- API key: `Authorization: Bearer sk-nova-…` or `X-API-Key`. Keys are stored only as SHA-256 hashes.
  `REQUIRE_AUTH=false` (a single-user machine) lets a request through without a key only when it comes
  straight from this machine: loopback peer, loopback Host, no proxy headers (`anonymous_allowed`).
- Service: `X-Service-Token`, the shared secret services use on each other's internal routes.
"""

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Protocol

import redis.asyncio as aioredis
import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from nova_common.config import MIN_SECRET_LENGTH, WELL_KNOWN_SECRETS, NovaSettings
from nova_common.errors import BadRequest, NotConfigured, Unauthorized
from nova_common.hosts import is_direct_local_request
from nova_contracts.orchestrator import config_redis_key

log = structlog.get_logger("nova_common.auth")

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
    """Who is calling. `kind` is admin, api_key, service or anonymous (REQUIRE_AUTH=false, local caller)."""

    kind: str
    key: ApiKeyRecord | None = None


def _settings(request: HTTPConnection) -> NovaSettings:
    settings: NovaSettings = request.app.state.settings
    return settings


def anonymous_allowed(connection: HTTPConnection) -> bool:
    """REQUIRE_AUTH=false and the caller is a local user talking to us directly (HTTP or WebSocket).

    Anything through a proxy, from another machine, or addressed by a non-loopback name (a browser page
    re-pointed at 127.0.0.1) still needs a key, whatever REQUIRE_AUTH says.
    """
    return not _settings(connection).require_auth and is_direct_local_request(connection.scope)


def _matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


ROTATED_ADMIN_SECRET_KEY = "auth.admin_secret"  # noqa: S105 (a config key name)


class AdminSecrets:
    """Which admin secret is in force: a rotated one (Redis DB 1) if any, else `NOVA_ADMIN_SECRET`.

    Redis holds `{"hmac_sha256": …, "rotated_at": …}` under `nova:config:auth.admin_secret`: an HMAC of the
    secret keyed by `NOVA_SERVICE_TOKEN`, so a copy of Redis does not reveal or let anyone test the secret.
    Each process re-reads it at most every `cache_seconds`; if Redis cannot be reached it keeps what it
    last saw (a rotation is never undone by an outage).
    """

    def __init__(
        self, settings: NovaSettings, config_redis: aioredis.Redis | None, *, cache_seconds: float = 5.0
    ) -> None:
        self.settings = settings
        self.config_redis = config_redis
        self.cache_seconds = cache_seconds
        self._rotated: str | None = None
        self._read_at = float("-inf")

    def _digest(self, secret: str) -> str:
        key = self.settings.service_token.get_secret_value().encode()
        return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()

    async def _rotated_digest(self) -> str | None:
        if self.config_redis is None or not self.settings.service_token_usable:
            return None
        if time.monotonic() - self._read_at > self.cache_seconds:
            try:
                raw = await self.config_redis.get(config_redis_key(ROTATED_ADMIN_SECRET_KEY))
            except (RedisError, OSError) as exc:
                log.warning("admin_secret_unreadable", error=type(exc).__name__)
                self._read_at = time.monotonic()  # back off: do not try Redis on every request meanwhile
                return self._rotated
            self._rotated = json.loads(raw)["hmac_sha256"] if raw else None
            self._read_at = time.monotonic()
        return self._rotated

    async def usable(self) -> bool:
        return self.settings.admin_secret_usable or await self._rotated_digest() is not None

    async def check(self, given: str | None) -> bool:
        if given is None:
            return False
        rotated = await self._rotated_digest()
        if rotated is not None:
            return hmac.compare_digest(self._digest(given), rotated)
        return self.settings.admin_secret_usable and _matches(
            given, self.settings.admin_secret.get_secret_value()
        )

    async def rotate(self, new_secret: str) -> datetime:
        """Put `new_secret` in force for every service; the previous secret stops working."""
        if self.config_redis is None or not self.settings.service_token_usable:
            raise NotConfigured("the admin secret cannot be rotated: NOVA_SERVICE_TOKEN or Redis is missing")
        if len(new_secret) < MIN_SECRET_LENGTH or new_secret.lower() in WELL_KNOWN_SECRETS:
            raise BadRequest(f"new_secret must be at least {MIN_SECRET_LENGTH} characters and not a default")
        rotated_at = datetime.now(UTC)
        record = {"hmac_sha256": self._digest(new_secret), "rotated_at": rotated_at.isoformat()}
        await self.config_redis.set(config_redis_key(ROTATED_ADMIN_SECRET_KEY), json.dumps(record))
        self._rotated, self._read_at = record["hmac_sha256"], time.monotonic()
        log.info("admin_secret_rotated")
        return rotated_at


def admin_secrets(request: Request) -> AdminSecrets:
    found: AdminSecrets | None = getattr(request.app.state, "admin_secrets", None)
    if found is None:  # an app without resources (unit tests): the env secret only
        found = request.app.state.admin_secrets = AdminSecrets(_settings(request), None)
    return found


async def _admin_ok(request: Request) -> bool:
    return await admin_secrets(request).check(request.headers.get(ADMIN_HEADER))


async def require_admin(request: Request, _: str | None = Depends(_admin_scheme)) -> Principal:
    secrets_ = admin_secrets(request)
    if not await secrets_.usable():
        raise NotConfigured(
            "admin access is disabled: NOVA_ADMIN_SECRET is unset or a well-known default "
            "(`make run` generates one into .env)"
        )
    given = request.headers.get(ADMIN_HEADER)
    if given is None:
        raise Unauthorized(f"missing {ADMIN_HEADER} header")
    if not await secrets_.check(given):
        raise Unauthorized("invalid admin secret")
    return Principal(kind="admin")


def service_token_ok(connection: HTTPConnection) -> bool:
    """The request carries this stack's service token."""
    settings = _settings(connection)
    token = connection.headers.get(SERVICE_HEADER)
    return settings.service_token_usable and _matches(token, settings.service_token.get_secret_value())


async def require_service(request: Request, _: str | None = Depends(_service_scheme)) -> Principal:
    """Internal routes: another Nova service (service token) or the admin."""
    settings = _settings(request)
    if request.headers.get(SERVICE_HEADER) is not None and settings.service_token_usable:
        if service_token_ok(request):
            return Principal(kind="service")
        raise Unauthorized("invalid service token")
    if await _admin_ok(request):
        return Principal(kind="admin")
    raise Unauthorized(f"this route is internal: send {SERVICE_HEADER} (or {ADMIN_HEADER})")


def extract_api_key(request: Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key") or None


async def require_api_key(request: Request, _: str | None = Depends(_api_key_scheme)) -> Principal:
    raw = extract_api_key(request)
    if raw is None:
        if await _admin_ok(request):
            return Principal(kind="admin")
        if anonymous_allowed(request):
            return Principal(kind="anonymous")
        hint = (
            ""
            if _settings(request).require_auth
            else " (REQUIRE_AUTH=false admits only direct local requests)"
        )
        raise Unauthorized("missing API key: send Authorization: Bearer sk-nova-… or X-API-Key" + hint)
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
