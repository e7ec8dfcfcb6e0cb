"""SQL for `skills` and `rules`."""

import uuid
from typing import Any

import asyncpg

_SKILL_COLUMNS = ("name", "description", "content", "enabled")
_RULE_COLUMNS = ("name", "description", "tool_pattern", "argument_pattern", "enabled")


class _Table:
    """Create, list, change and delete rows of one admin-managed table keyed by id with a unique name."""

    table: str
    columns: tuple[str, ...]

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def all(self, *, enabled_only: bool = False) -> list[dict[str, Any]]:
        where = "WHERE enabled" if enabled_only else ""
        rows = await self.pool.fetch(f"SELECT * FROM {self.table} {where} ORDER BY name")  # noqa: S608 - fixed names
        return [dict(r) for r in rows]

    async def get(self, row_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(f"SELECT * FROM {self.table} WHERE id = $1", row_id)  # noqa: S608
        return dict(row) if row else None

    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        names = [c for c in self.columns if c in values]
        placeholders = ", ".join(f"${i + 1}" for i in range(len(names)))
        row = await self.pool.fetchrow(
            f"INSERT INTO {self.table} ({', '.join(names)}) VALUES ({placeholders}) RETURNING *",  # noqa: S608
            *(values[c] for c in names),
        )
        assert row is not None
        return dict(row)

    async def update(self, row_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any] | None:
        names = [c for c in self.columns if c in changes]
        sets = [f"{c} = ${i + 2}" for i, c in enumerate(names)] + ["updated_at = now()"]
        row = await self.pool.fetchrow(
            f"UPDATE {self.table} SET {', '.join(sets)} WHERE id = $1 RETURNING *",  # noqa: S608 - fixed columns
            row_id,
            *(changes[c] for c in names),
        )
        return dict(row) if row else None

    async def delete(self, row_id: uuid.UUID) -> bool:
        status = await self.pool.execute(f"DELETE FROM {self.table} WHERE id = $1", row_id)  # noqa: S608
        return str(status).endswith(" 1")


class SkillRepository(_Table):
    table = "skills"
    columns = _SKILL_COLUMNS

    async def by_names(self, names: list[str]) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM skills WHERE enabled AND name = ANY($1::text[]) ORDER BY name", names
        )
        return [dict(r) for r in rows]


class RuleRepository(_Table):
    table = "rules"
    columns = _RULE_COLUMNS
