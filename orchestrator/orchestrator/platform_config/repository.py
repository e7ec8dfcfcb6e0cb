"""SQL for the `platform_config` table (one JSONB value per key)."""

import json
from typing import Any

import asyncpg


class PlatformConfigRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def all(self) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT key, value::text AS value, description, is_secret, updated_at FROM platform_config"
            )
        )

    async def upsert(
        self, key: str, value: Any, description: str | None, *, is_secret: bool = False
    ) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            """INSERT INTO platform_config (key, value, description, is_secret) VALUES ($1, $2::jsonb, $3, $4)
               ON CONFLICT (key) DO UPDATE
                 SET value = EXCLUDED.value,
                     description = COALESCE(EXCLUDED.description, platform_config.description),
                     is_secret = platform_config.is_secret OR EXCLUDED.is_secret,
                     updated_at = now()
               RETURNING key, value::text AS value, description, is_secret, updated_at""",
            key,
            json.dumps(value),
            description,
            is_secret,
        )
        if row is None:  # INSERT … RETURNING always yields the row; this only narrows the type
            raise RuntimeError(f"upsert of {key!r} returned no row")
        return row

    async def delete(self, key: str) -> None:
        await self.pool.execute("DELETE FROM platform_config WHERE key = $1", key)
