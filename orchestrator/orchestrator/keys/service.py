"""API keys: issue (raw key shown once), list, revoke, validate for other services."""

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from nova_common.auth import API_KEY_PREFIX, generate_api_key, hash_api_key
from nova_common.errors import NotFound
from nova_contracts.orchestrator import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyInvalidReason,
    ApiKeyValidation,
)
from orchestrator.keys.repository import ApiKeyRepository


def _info(row: asyncpg.Record) -> ApiKeyInfo:
    return ApiKeyInfo.model_validate(dict(row))


class ApiKeyService:
    def __init__(self, repository: ApiKeyRepository) -> None:
        self.repository = repository

    async def create(self, request: ApiKeyCreate) -> ApiKeyCreated:
        key = generate_api_key()
        row = await self.repository.insert(
            name=request.name,
            key_hash=key.key_hash,
            key_prefix=key.prefix,
            rate_limit_rpm=request.rate_limit_rpm,
            expires_at=request.expires_at,
        )
        return ApiKeyCreated.model_validate({**dict(row), "key": key.raw})

    async def list(self, *, limit: int, offset: int) -> list[ApiKeyInfo]:
        return [_info(row) for row in await self.repository.list(limit=limit, offset=offset)]

    async def revoke(self, key_id: UUID) -> None:
        """Idempotent for a key that exists; 404 for one that never did."""
        if not await self.repository.revoke(key_id) and not await self.repository.exists(key_id):
            raise NotFound(f"API key {key_id} not found")

    async def validate(self, raw_key: str | None, key_hash: str | None = None) -> ApiKeyValidation:
        """By the raw key, or by its SHA-256 hex (so a caller need not send the secret on)."""
        if key_hash is None:
            if not raw_key:
                return ApiKeyValidation(valid=False, reason=ApiKeyInvalidReason.MISSING)
            if not raw_key.startswith(API_KEY_PREFIX):
                return ApiKeyValidation(valid=False, reason=ApiKeyInvalidReason.MALFORMED)
            key_hash = hash_api_key(raw_key)
        record = await self.repository.find_by_hash(key_hash)
        if record is None:
            return ApiKeyValidation(valid=False, reason=ApiKeyInvalidReason.UNKNOWN)
        known = {"key_id": UUID(record.id), "name": record.name, "rate_limit_rpm": record.rate_limit_rpm}
        if record.revoked_at is not None:
            return ApiKeyValidation(valid=False, reason=ApiKeyInvalidReason.REVOKED, **known)
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            return ApiKeyValidation(valid=False, reason=ApiKeyInvalidReason.EXPIRED, **known)
        return ApiKeyValidation(valid=True, **known)
