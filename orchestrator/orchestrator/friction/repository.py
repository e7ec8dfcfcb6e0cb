"""SQL for `friction_reports`."""

import uuid
from typing import Any

import asyncpg

from nova_contracts.orchestrator import FrictionCreate

# Listings leave the screenshot out: it can be a megabyte per row.
_LISTED = """id, text, page, status, screenshot IS NOT NULL AS has_screenshot, task_id, owner, created_at,
             updated_at"""


class FrictionRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(self, report: FrictionCreate, owner: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            f"""INSERT INTO friction_reports (text, page, screenshot, owner) VALUES ($1, $2, $3, $4)
                RETURNING {_LISTED}""",  # noqa: S608 - a fixed column list
            report.text,
            report.page,
            report.screenshot,
            owner,
        )
        assert row is not None
        return dict(row)

    async def list(
        self, *, owner: str | None, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f"""SELECT {_LISTED} FROM friction_reports
                WHERE ($1::text IS NULL OR owner = $1) AND ($2::text IS NULL OR status = $2)
                ORDER BY created_at DESC, id LIMIT $3 OFFSET $4""",  # noqa: S608 - a fixed column list
            owner,
            status,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def get(self, report_id: uuid.UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {_LISTED}, screenshot FROM friction_reports WHERE id = $1",  # noqa: S608
            report_id,
        )
        return dict(row) if row else None

    async def set_status(
        self, report_id: uuid.UUID, status: str, *, task_id: uuid.UUID | None = None
    ) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"""UPDATE friction_reports SET status = $2, task_id = COALESCE($3, task_id), updated_at = now()
                WHERE id = $1 RETURNING {_LISTED}""",  # noqa: S608 - a fixed column list
            report_id,
            status,
            task_id,
        )
        return dict(row) if row else None

    async def delete(self, report_id: uuid.UUID) -> bool:
        status = await self.pool.execute("DELETE FROM friction_reports WHERE id = $1", report_id)
        return str(status).endswith(" 1")
