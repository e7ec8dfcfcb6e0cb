"""SQL for the `mcp_servers` table."""

import json
from typing import Any
from uuid import UUID

import asyncpg

_COLUMNS = (
    "id, name, description, transport, command, args::text AS args, env::text AS env, url, enabled, "
    "metadata::text AS metadata, created_at, updated_at"
)
JSON_COLUMNS = ("args", "env", "metadata")


def _decode(row: asyncpg.Record | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    for column in JSON_COLUMNS:
        data[column] = json.loads(data[column])
    return data


class McpServerRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def list(self, *, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM mcp_servers ORDER BY name LIMIT $1 OFFSET $2",  # noqa: S608
            limit,
            offset,
        )
        return [d for d in map(_decode, rows) if d is not None]

    async def get(self, server_id: UUID) -> dict[str, Any] | None:
        return _decode(
            await self.pool.fetchrow(f"SELECT {_COLUMNS} FROM mcp_servers WHERE id = $1", server_id)  # noqa: S608
        )

    async def insert(self, values: dict[str, Any]) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"""INSERT INTO mcp_servers (name, description, transport, command, args, env, url, enabled, metadata)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9::jsonb)
                RETURNING {_COLUMNS}""",  # noqa: S608 - a column list constant
            values["name"],
            values["description"],
            values["transport"],
            values["command"],
            json.dumps(values["args"]),
            json.dumps(values["env"]),
            values["url"],
            values["enabled"],
            json.dumps(values["metadata"]),
        )
        decoded = _decode(row)
        assert decoded is not None
        return decoded

    async def update(self, server_id: UUID, values: dict[str, Any]) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"""UPDATE mcp_servers SET description = $2, transport = $3, command = $4, args = $5::jsonb,
                   env = $6::jsonb, url = $7, enabled = $8, metadata = $9::jsonb, updated_at = now()
                WHERE id = $1 RETURNING {_COLUMNS}""",  # noqa: S608 - a column list constant
            server_id,
            values["description"],
            values["transport"],
            values["command"],
            json.dumps(values["args"]),
            json.dumps(values["env"]),
            values["url"],
            values["enabled"],
            json.dumps(values["metadata"]),
        )
        return _decode(row)

    async def delete(self, server_id: UUID) -> bool:
        status = await self.pool.execute("DELETE FROM mcp_servers WHERE id = $1", server_id)
        return status.endswith(" 1")
