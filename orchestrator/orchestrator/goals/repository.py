"""SQL for goals, their iterations, reflections and comments."""

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

# Columns a create or an update may write; only ever interpolated from this constant.
_WRITABLE = (
    "title", "description", "priority", "status", "max_iterations", "max_cost_usd", "check_interval_seconds",
    "schedule_cron", "schedule_next_at", "max_completions", "maturation_status", "spec", "spec_feedback",
    "metadata", "current_plan", "progress",
)  # fmt: skip
_JSON = frozenset({"metadata", "current_plan"})
_MONEY = ("max_cost_usd", "cost_usd")


def _placeholder(column: str, index: int) -> str:
    return f"${index}::jsonb" if column in _JSON else f"${index}"


def _encode(column: str, value: Any) -> Any:
    return json.dumps(value) if column in _JSON and value is not None else value


def goal_row(record: asyncpg.Record) -> dict[str, Any]:
    data = dict(record)
    for column in _JSON:
        if isinstance(data.get(column), str):
            data[column] = json.loads(data[column])
    for column in _MONEY:
        if data.get(column) is not None:
            data[column] = float(data[column])
    return data


def _scope_sql(scope: tuple[str | None, str | None], first_index: int) -> tuple[str, list[Any]]:
    """`AND owner = …` for a tenant's scope; nothing for the admin's `(None, None)`."""
    kind, key_id = scope
    if kind is None:
        return "", []
    if key_id is None:
        return f" AND owner_kind = ${first_index} AND api_key_id IS NULL", [kind]
    return (
        f" AND owner_kind = ${first_index} AND api_key_id = ${first_index + 1}::uuid",
        [kind, key_id],
    )


class GoalRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(
        self, values: dict[str, Any], *, created_by: str, owner_kind: str, api_key_id: str | None
    ) -> dict[str, Any]:
        columns = [c for c in _WRITABLE if c in values]
        names = [*columns, "created_by", "owner_kind", "api_key_id"]
        params = [_encode(c, values[c]) for c in columns] + [created_by, owner_kind, api_key_id]
        placeholders = [_placeholder(c, i + 1) for i, c in enumerate(columns)]
        placeholders += [f"${len(columns) + 1}", f"${len(columns) + 2}", f"${len(columns) + 3}::uuid"]
        row = await self.pool.fetchrow(
            f"INSERT INTO goals ({', '.join(names)}) VALUES ({', '.join(placeholders)}) RETURNING *",  # noqa: S608 - names from _WRITABLE
            *params,
        )
        assert row is not None
        return goal_row(row)

    async def get(self, goal_id: uuid.UUID, scope: tuple[str | None, str | None]) -> dict[str, Any] | None:
        where, args = _scope_sql(scope, 2)
        row = await self.pool.fetchrow(f"SELECT * FROM goals WHERE id = $1{where}", goal_id, *args)  # noqa: S608
        return goal_row(row) if row else None

    async def page(
        self,
        scope: tuple[str | None, str | None],
        *,
        status: str | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        where, args = _scope_sql(scope, 4)
        rows = await self.pool.fetch(
            f"""SELECT * FROM goals WHERE ($1::text IS NULL OR status = $1){where}
                ORDER BY priority, created_at DESC LIMIT $2 OFFSET $3""",  # noqa: S608 - a fixed filter
            status,
            limit,
            offset,
            *args,
        )
        return [goal_row(r) for r in rows]

    async def update(self, goal_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any] | None:
        columns = [c for c in _WRITABLE if c in values]
        sets = [f"{c} = {_placeholder(c, i + 2)}" for i, c in enumerate(columns)]
        row = await self.pool.fetchrow(
            f"UPDATE goals SET {', '.join([*sets, 'updated_at = now()'])} WHERE id = $1 RETURNING *",  # noqa: S608 - names from _WRITABLE
            goal_id,
            *(_encode(c, values[c]) for c in columns),
        )
        return goal_row(row) if row else None

    async def delete(self, goal_id: uuid.UUID) -> bool:
        status = await self.pool.execute("DELETE FROM goals WHERE id = $1", goal_id)
        return status.endswith(" 1")

    async def stats(self, scope: tuple[str | None, str | None]) -> dict[str, Any]:
        where, args = _scope_sql(scope, 1)
        async with self.pool.acquire() as conn:
            by_status = await conn.fetch(
                f"SELECT status, count(*) AS n FROM goals WHERE true{where} GROUP BY status",  # noqa: S608
                *args,
            )
            totals = await conn.fetchrow(
                f"""SELECT count(*) FILTER (WHERE schedule_cron IS NOT NULL AND status = 'active') AS scheduled,
                           count(*) FILTER (WHERE maturation_status = 'review') AS awaiting_review,
                           COALESCE(sum(cost_usd), 0) AS cost_usd,
                           COALESCE(sum(iteration_count), 0) AS iterations
                    FROM goals WHERE true{where}""",  # noqa: S608
                *args,
            )
        assert totals is not None
        counts = {r["status"]: r["n"] for r in by_status}
        return {
            "total": sum(counts.values()),
            "by_status": counts,
            "scheduled": totals["scheduled"],
            "awaiting_review": totals["awaiting_review"],
            "cost_usd": float(totals["cost_usd"]),
            "iterations": int(totals["iterations"]),
        }

    async def fire_schedule(
        self, goal_id: uuid.UUID, now: datetime, next_at: datetime
    ) -> dict[str, Any] | None:
        """Take a due schedule once: count the completion and move to `next_at`, or finish the goal when it
        reached `max_completions`. None when the goal was not due (another cycle took it already)."""
        row = await self.pool.fetchrow(
            """WITH due AS (
                   SELECT id, max_completions IS NOT NULL AND completion_count + 1 >= max_completions AS last
                   FROM goals WHERE id = $1 AND status = 'active' AND schedule_next_at <= $2 FOR UPDATE)
               UPDATE goals g SET completion_count = g.completion_count + 1,
                      schedule_next_at = CASE WHEN due.last THEN NULL ELSE $3::timestamptz END,
                      schedule_cron = CASE WHEN due.last THEN NULL ELSE g.schedule_cron END,
                      status = CASE WHEN due.last THEN 'completed' ELSE g.status END,
                      updated_at = now()
               FROM due WHERE g.id = due.id RETURNING g.*""",
            goal_id,
            now,
            next_at,
        )
        return goal_row(row) if row else None

    async def due_schedules(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM goals WHERE status = 'active' AND schedule_next_at <= $1
               ORDER BY schedule_next_at LIMIT $2""",
            now,
            limit,
        )
        return [goal_row(r) for r in rows]

    # Iterations -------------------------------------------------------------------------------------------

    async def insert_iteration(
        self, goal_id: uuid.UUID, iteration: int, plan: str, pipeline_task_id: uuid.UUID | None
    ) -> tuple[dict[str, Any], bool]:
        """The attempt, and whether this call created it (False: it was recorded before, e.g. by a cycle
        that crashed after recording it)."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO goal_iterations (goal_id, iteration, plan, pipeline_task_id)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (goal_id, iteration) DO NOTHING RETURNING *""",
                goal_id,
                iteration,
                plan,
                pipeline_task_id,
            )
            if row is not None:
                await conn.execute(
                    """UPDATE goals SET iteration_count = GREATEST(iteration_count, $2), last_checked_at = now(),
                              current_plan = jsonb_build_object('iteration', $2::int, 'plan', $3::text),
                              updated_at = now()
                       WHERE id = $1""",
                    goal_id,
                    iteration,
                    plan,
                )
                return goal_row(row), True
            existing = await conn.fetchrow(
                "SELECT * FROM goal_iterations WHERE goal_id = $1 AND iteration = $2", goal_id, iteration
            )
        assert existing is not None
        return goal_row(existing), False

    async def update_iteration(
        self, goal_id: uuid.UUID, iteration_id: uuid.UUID, values: dict[str, Any], progress: float | None
    ) -> dict[str, Any] | None:
        """Record an attempt's result; its cost is added to the goal's once, when the attempt first
        leaves `pending` (a repeated report does not count twice)."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow(
                "SELECT outcome, cost_usd FROM goal_iterations WHERE id = $1 AND goal_id = $2 FOR UPDATE",
                iteration_id,
                goal_id,
            )
            if before is None:
                return None
            columns = [
                c
                for c in ("pipeline_task_id", "outcome", "cost_usd", "duration_ms", "summary")
                if c in values
            ]
            sets = [f"{c} = ${i + 2}" for i, c in enumerate(columns)]
            finishing = values.get("outcome") not in (None, "pending") and before["outcome"] == "pending"
            if finishing:
                sets.append("finished_at = now()")
            row = await conn.fetchrow(
                f"UPDATE goal_iterations SET {', '.join(sets) or 'id = id'} WHERE id = $1 RETURNING *",  # noqa: S608 - fixed column names
                iteration_id,
                *(values[c] for c in columns),
            )
            assert row is not None
            added_cost = float(row["cost_usd"]) - float(before["cost_usd"])
            await conn.execute(
                """UPDATE goals SET cost_usd = cost_usd + $2,
                          progress = COALESCE($3, progress), updated_at = now()
                   WHERE id = $1""",
                goal_id,
                max(added_cost, 0.0),
                progress,
            )
        return goal_row(row)

    async def iterations(self, goal_id: uuid.UUID, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM goal_iterations WHERE goal_id = $1 ORDER BY iteration DESC LIMIT $2 OFFSET $3",
            goal_id,
            limit,
            offset,
        )
        return [goal_row(r) for r in rows]

    # Reflections and comments ---------------------------------------------------------------------------

    async def insert_reflection(self, goal_id: uuid.UUID, values: dict[str, Any]) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            """INSERT INTO goal_reflections (goal_id, iteration_id, approach_fingerprint, outcome, lesson)
               VALUES ($1, $2, $3, $4, $5) RETURNING *""",
            goal_id,
            values.get("iteration_id"),
            values["approach_fingerprint"],
            values["outcome"],
            values.get("lesson", ""),
        )
        assert row is not None
        return dict(row)

    async def reflections(self, goal_id: uuid.UUID, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT * FROM goal_reflections WHERE goal_id = $1
               ORDER BY created_at DESC LIMIT $2 OFFSET $3""",
            goal_id,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def insert_comment(self, goal_id: uuid.UUID, author: str, body: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            "INSERT INTO goal_comments (goal_id, author, body) VALUES ($1, $2, $3) RETURNING *",
            goal_id,
            author,
            body,
        )
        assert row is not None
        return dict(row)

    async def comments(self, goal_id: uuid.UUID, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM goal_comments WHERE goal_id = $1 ORDER BY created_at LIMIT $2 OFFSET $3",
            goal_id,
            limit,
            offset,
        )
        return [dict(r) for r in rows]

    async def tasks(self, goal_id: uuid.UUID, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT id, goal, status, cost_usd, metadata, created_at FROM pipeline_tasks WHERE goal_id = $1
               ORDER BY created_at DESC LIMIT $2 OFFSET $3""",
            goal_id,
            limit,
            offset,
        )
        return [goal_row(r) for r in rows]
