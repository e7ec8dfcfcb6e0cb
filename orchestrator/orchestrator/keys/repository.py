"""SQL for the `api_keys` table."""

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

import asyncpg

from nova_common.auth import ApiKeyRecord

# Only ever interpolated as this constant column list; values always go through $n parameters.
_COLUMNS = "id, name, key_prefix, rate_limit_rpm, created_at, last_used_at, expires_at, revoked_at"


def _record(row: asyncpg.Record) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=str(row["id"]),
        name=row["name"],
        key_prefix=row["key_prefix"],
        rate_limit_rpm=row["rate_limit_rpm"],
        revoked_at=row["revoked_at"],
        expires_at=row["expires_at"],
    )


class ApiKeyRepository:
    """Also the orchestrator's `ApiKeyStore` for the kit's API-key dependency."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def find_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1", key_hash)  # noqa: S608
        return _record(row) if row else None

    async def insert(
        self, *, name: str, key_hash: str, key_prefix: str, rate_limit_rpm: int, expires_at: datetime | None
    ) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            f"""INSERT INTO api_keys (name, key_hash, key_prefix, rate_limit_rpm, expires_at)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",  # noqa: S608 - a column list constant
            name,
            key_hash,
            key_prefix,
            rate_limit_rpm,
            expires_at,
        )
        assert row is not None
        return row

    async def list(self, *, limit: int, offset: int) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",  # noqa: S608
                limit,
                offset,
            )
        )

    async def exists(self, key_id: UUID) -> bool:
        return bool(await self.pool.fetchval("SELECT 1 FROM api_keys WHERE id = $1", key_id))

    async def revoke(self, key_id: UUID) -> bool:
        status = await self.pool.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
        )
        return status.endswith(" 1")

    async def touch(self, key_ids: Collection[UUID]) -> None:
        await self.pool.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])", list(key_ids)
        )
