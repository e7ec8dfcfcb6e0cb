"""SQL for pipeline tasks: inserts, compare-and-set transitions with their timeline rows, stage checkpoints."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from nova_contracts.orchestrator import PipelineTaskState
from orchestrator.pipeline.state import RUNNING_STATES, check_transition

S = PipelineTaskState
_JSON_COLUMNS = ("pod", "tags", "metadata", "checkpoint", "clarification_questions")

# Columns a transition may set, with the SQL cast of their parameter. Names come from this table only.
_SETTABLE: dict[str, str] = {
    "current_stage": "text",
    "output": "text",
    "error": "text",
    "worker_id": "text",
    "clarification_questions": "jsonb",
    "checkpoint": "jsonb",
    "dead_letter_reason": "text",
}
# Side effects of entering a state, applied by the same UPDATE.
_ON_ENTER: dict[S, str] = {
    S.QUEUED: "queued_at = clock_timestamp(), worker_id = NULL, heartbeat_at = NULL",
    S.COMPLETE: "completed_at = clock_timestamp(), worker_id = NULL, heartbeat_at = NULL",
    S.FAILED: "completed_at = clock_timestamp(), worker_id = NULL, heartbeat_at = NULL",
    S.CANCELLED: "completed_at = clock_timestamp(), worker_id = NULL, heartbeat_at = NULL",
    S.PENDING_HUMAN_REVIEW: "worker_id = NULL, heartbeat_at = NULL",
    S.CLARIFICATION_NEEDED: "worker_id = NULL, heartbeat_at = NULL",
}


def task_dict(record: asyncpg.Record) -> dict[str, Any]:
    data = dict(record)
    for column in _JSON_COLUMNS:
        if isinstance(data.get(column), str):
            data[column] = json.loads(data[column])
    if data.get("cost_usd") is not None:
        data["cost_usd"] = float(data["cost_usd"])
    return data


@dataclass(frozen=True)
class Fence:
    """The worker holding a task: a write succeeds only while the row still names it and its claim."""

    worker_id: str
    attempts: int


@dataclass
class StageRecords:
    """What a finished stage leaves behind besides its checkpoint entry."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    review: dict[str, Any] | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)


class PipelineRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert_task(
        self,
        *,
        goal: str,
        pod_id: uuid.UUID | None,
        pod: dict[str, Any],
        tags: list[str],
        metadata: dict[str, Any],
        max_retries: int,
        api_key_id: str | None,
    ) -> dict[str, Any]:
        """Persist a task as `queued`, with its `submitted` and `submitted → queued` timeline rows."""
        record = await self.pool.fetchrow(
            """WITH task AS (
                   INSERT INTO pipeline_tasks (goal, status, pod_id, pod, tags, metadata, max_retries, api_key_id,
                                               queued_at)
                   VALUES ($1, 'queued', $2, $3::jsonb, $4::jsonb, $5::jsonb, $6, $7::uuid, clock_timestamp())
                   RETURNING *
               ), logged AS (
                   INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, detail)
                   SELECT id, 'transition', NULL, 'submitted', 'persisted' FROM task
                   UNION ALL
                   SELECT id, 'transition', 'submitted', 'queued', NULL FROM task
               )
               SELECT * FROM task""",
            goal,
            pod_id,
            json.dumps(pod),
            json.dumps(tags),
            json.dumps(metadata),
            max_retries,
            api_key_id,
        )
        assert record is not None
        return task_dict(record)

    async def get(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        record = await self.pool.fetchrow("SELECT * FROM pipeline_tasks WHERE id = $1", task_id)
        return task_dict(record) if record else None

    async def search(
        self,
        *,
        status: S | None,
        pod_id: uuid.UUID | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        where = """($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR pod_id = $2)
                   AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)"""
        args = (status.value if status else None, pod_id, since, until)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT * FROM pipeline_tasks WHERE {where} ORDER BY created_at DESC, id LIMIT $5 OFFSET $6",  # noqa: S608
                *args,
                limit,
                offset,
            )
            total = await conn.fetchval(f"SELECT count(*) FROM pipeline_tasks WHERE {where}", *args)  # noqa: S608
        return [task_dict(r) for r in rows], int(total)

    async def transition(
        self,
        task_id: uuid.UUID,
        current: S,
        target: S,
        *,
        fence: Fence | None = None,
        stage: str | None = None,
        detail: str | None = None,
        worker_id: str | None = None,
        values: dict[str, Any] | None = None,
        claim: Fence | None = None,
        count_retry: bool = False,
        conn: asyncpg.Connection | None = None,
    ) -> dict[str, Any] | None:
        """Compare-and-set `current → target` and record it; None when the row was no longer in `current`
        (or, with `fence`, no longer held by that worker claim). Illegal transitions raise before any SQL."""
        check_transition(current, target)
        args: list[Any] = [
            task_id,
            current.value,
            target.value,
            stage,
            detail,
            worker_id or (fence and fence.worker_id),
        ]
        sets = ["status = $3", "updated_at = clock_timestamp()"]
        if target in _ON_ENTER:
            sets.append(_ON_ENTER[target])
        for column, value in (values or {}).items():
            if column == "checkpoint_patch":
                args.append(json.dumps(value))
                sets.append(f"checkpoint = checkpoint || ${len(args)}::jsonb")
                continue
            cast = _SETTABLE[column]
            args.append(json.dumps(value) if cast == "jsonb" else value)
            sets.append(f"{column} = ${len(args)}::{cast}")
        if claim is not None:
            args.append(claim.worker_id)
            sets.append(
                f"worker_id = ${len(args)}, attempts = attempts + 1, heartbeat_at = clock_timestamp(), "
                "started_at = clock_timestamp(), first_started_at = COALESCE(first_started_at, clock_timestamp())"
            )
        if count_retry:
            sets.append("retries = retries + 1")
        conditions = ["id = $1", "status = $2"]
        if fence is not None:
            args.extend([fence.worker_id, fence.attempts])
            conditions.append(f"worker_id = ${len(args) - 1} AND attempts = ${len(args)}")
        if claim is not None:
            args.append(claim.attempts)
            conditions.append(f"attempts = ${len(args)}")
        query = f"""WITH moved AS (
                       UPDATE pipeline_tasks SET {", ".join(sets)} WHERE {" AND ".join(conditions)} RETURNING *
                   ), logged AS (
                       INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, stage, detail, worker_id)
                       SELECT id, 'transition', $2, $3, $4, $5, $6 FROM moved
                   )
                   SELECT * FROM moved"""  # noqa: S608 - SET/WHERE built from _SETTABLE and constants
        record = await (conn or self.pool).fetchrow(query, *args)
        return task_dict(record) if record else None

    async def save_stage(
        self,
        task_id: uuid.UUID,
        fence: Fence,
        *,
        current: S,
        target: S,
        stage: str,
        iteration: int,
        checkpoint_patch: dict[str, Any],
        cost_usd: float,
        records: StageRecords,
        next_stage: str | None,
        notes: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any] | None:
        """Checkpoint a finished stage and move to the next state in one transaction (or not at all)."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE pipeline_tasks SET checkpoint = checkpoint || $4::jsonb, cost_usd = cost_usd + $5,
                          current_stage = $6, updated_at = clock_timestamp()
                   WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND status = $7 RETURNING id""",
                task_id,
                fence.worker_id,
                fence.attempts,
                json.dumps(checkpoint_patch),
                cost_usd,
                next_stage,
                current.value,
            )
            if row is None:
                return None
            await conn.execute(
                """INSERT INTO pipeline_task_events (task_id, kind, stage, detail, worker_id)
                   VALUES ($1, 'stage_completed', $2, $3, $4)""",
                task_id,
                stage,
                f"iteration {iteration}" if iteration else None,
                fence.worker_id,
            )
            for kind, detail in notes or []:
                await conn.execute(
                    "INSERT INTO pipeline_task_events (task_id, kind, stage, detail, worker_id) VALUES ($1, $2, $3, $4, $5)",
                    task_id,
                    kind,
                    stage,
                    detail,
                    fence.worker_id,
                )
            await self._insert_records(conn, task_id, stage, iteration, records)
            if target == current:
                moved = await conn.fetchrow("SELECT * FROM pipeline_tasks WHERE id = $1", task_id)
                return task_dict(moved) if moved else None
            return await self.transition(task_id, current, target, fence=fence, stage=next_stage, conn=conn)

    @staticmethod
    async def _insert_records(
        conn: asyncpg.Connection, task_id: uuid.UUID, stage: str, iteration: int, records: StageRecords
    ) -> None:
        if records.findings:
            await conn.executemany(
                """INSERT INTO pipeline_findings (task_id, stage, iteration, ordinal, type, severity, description, evidence)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
                [
                    (
                        task_id,
                        stage,
                        iteration,
                        i,
                        f["type"],
                        f["severity"],
                        f["description"],
                        f.get("evidence"),
                    )
                    for i, f in enumerate(records.findings)
                ],
            )
        if records.review is not None:
            await conn.execute(
                """INSERT INTO pipeline_reviews (task_id, stage, iteration, verdict, summary, issues)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING""",
                task_id,
                stage,
                iteration,
                records.review["verdict"],
                records.review.get("summary", ""),
                json.dumps(records.review.get("issues", [])),
            )
        if records.artifacts:
            await conn.executemany(
                """INSERT INTO pipeline_artifacts (task_id, stage, iteration, name, artifact_type, content)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                [
                    (task_id, stage, iteration, a["name"], a["artifact_type"], a["content"])
                    for a in records.artifacts
                ],
            )

    async def note(
        self, task_id: uuid.UUID, kind: str, *, stage: str | None = None, detail: str | None = None,
        worker_id: str | None = None,
    ) -> None:  # fmt: skip
        await self.pool.execute(
            "INSERT INTO pipeline_task_events (task_id, kind, stage, detail, worker_id) VALUES ($1, $2, $3, $4, $5)",
            task_id,
            kind,
            stage,
            detail,
            worker_id,
        )

    async def heartbeat(self, worker_id: str, task_ids: list[uuid.UUID]) -> int:
        status = await self.pool.execute(
            "UPDATE pipeline_tasks SET heartbeat_at = clock_timestamp() WHERE id = ANY($1::uuid[]) AND worker_id = $2",
            task_ids,
            worker_id,
        )
        return int(status.split()[-1])

    async def stale(self, stale_seconds: float) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            """SELECT id, status, attempts, retries, max_retries, worker_id, heartbeat_at FROM pipeline_tasks
               WHERE status = ANY($1::text[]) AND heartbeat_at < clock_timestamp() - make_interval(secs => $2)""",
            [s.value for s in RUNNING_STATES],
            stale_seconds,
        )
        return [dict(r) for r in rows]

    async def queued_since(self, seconds: float) -> list[uuid.UUID]:
        rows = await self.pool.fetch(
            """SELECT id FROM pipeline_tasks
               WHERE status = 'queued' AND queued_at < clock_timestamp() - make_interval(secs => $1)""",
            seconds,
        )
        return [r["id"] for r in rows]

    async def dead_letter(
        self, task_id: uuid.UUID, current: S, attempts: int, reason: str
    ) -> dict[str, Any] | None:
        async with self.pool.acquire() as conn, conn.transaction():
            moved = await self.transition(
                task_id, current, S.FAILED, detail=reason, worker_id="reaper",
                values={"error": reason, "dead_letter_reason": reason}, conn=conn,
            )  # fmt: skip
            if moved is not None:
                await conn.execute(
                    "UPDATE pipeline_tasks SET dead_lettered_at = clock_timestamp() WHERE id = $1", task_id
                )
            return moved

    async def dead_letters(self, *, limit: int, offset: int) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT id AS task_id, goal, dead_letter_reason AS reason, retries, dead_lettered_at
                   FROM pipeline_tasks WHERE dead_lettered_at IS NOT NULL AND status = 'failed'
                   ORDER BY dead_lettered_at DESC LIMIT $1 OFFSET $2""",
                limit,
                offset,
            )
        )

    async def requeue_dead_letter(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        """Give a dead-lettered task a fresh set of retries; it resumes from its checkpoint."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE pipeline_tasks SET status = 'queued', retries = 0, error = NULL, dead_letter_reason = NULL,
                          dead_lettered_at = NULL, completed_at = NULL, queued_at = clock_timestamp(),
                          updated_at = clock_timestamp()
                   WHERE id = $1 AND status = 'failed' AND dead_lettered_at IS NOT NULL RETURNING *""",
                task_id,
            )
            if row is None:
                return None
            await conn.execute(
                """INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, detail)
                   VALUES ($1, 'transition', 'failed', 'queued', 're-queued from the dead letter')""",
                task_id,
            )
            return task_dict(row)

    async def stats(self) -> asyncpg.Record:
        record = await self.pool.fetchrow(
            """SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
                      count(*) FILTER (WHERE status = ANY($1::text[])) AS running,
                      count(*) FILTER (WHERE dead_lettered_at IS NOT NULL AND status = 'failed') AS dead_letter,
                      EXTRACT(EPOCH FROM clock_timestamp() - min(queued_at) FILTER (WHERE status = 'queued'))::float8
                          AS oldest_queued_age_seconds
               FROM pipeline_tasks
               WHERE status = ANY($1::text[]) OR status = 'queued' OR dead_lettered_at IS NOT NULL""",
            [s.value for s in RUNNING_STATES],
        )
        assert record is not None
        return record

    async def spend(self, task_id: uuid.UUID) -> float:
        """What the gateway recorded for this task's model calls, killed attempts included."""
        value = await self.pool.fetchval(
            "SELECT COALESCE(sum(cost_usd), 0)::float8 FROM usage_events WHERE task_id = $1", str(task_id)
        )
        return float(value or 0.0)

    async def timeline(self, task_id: uuid.UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT kind, from_status, to_status, stage, detail, worker_id, created_at AS at
                   FROM pipeline_task_events WHERE task_id = $1 ORDER BY id""",
                task_id,
            )
        )

    async def findings(self, task_id: uuid.UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT * FROM pipeline_findings WHERE task_id = $1 ORDER BY created_at, iteration, ordinal",
                task_id,
            )
        )

    async def reviews(self, task_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM pipeline_reviews WHERE task_id = $1 ORDER BY created_at, iteration", task_id
        )
        return [{**dict(r), "issues": json.loads(r["issues"])} for r in rows]

    async def artifacts(self, task_id: uuid.UUID) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                "SELECT * FROM pipeline_artifacts WHERE task_id = $1 ORDER BY created_at, iteration, name",
                task_id,
            )
        )
