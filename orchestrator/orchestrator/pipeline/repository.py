"""SQL for pipeline tasks: inserts, claims, compare-and-set writes with their timeline rows, checkpoints.

Every change to a task is one statement, `WRITE_SQL`: the compare-and-set UPDATE (state, fence, guard),
its timeline rows and the stage's findings, review and artifacts are data-modifying CTEs of it, written
only if the UPDATE matched. One statement text for every change also lets the workers send many of them
in one round trip and one commit (`TaskWriter`), each still its own compare-and-set.
"""

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from nova_contracts.orchestrator import TERMINAL_STATES, PipelineTaskState
from orchestrator.pipeline.state import RUNNING_STATES, Guard, check_transition

S = PipelineTaskState
_JSON_COLUMNS = ("pod", "tags", "metadata", "checkpoint", "clarification_questions")

# Columns a write may set, with the SQL type of their value. Names come from this table only.
SETTABLE: dict[str, str] = {
    "current_stage": "text",
    "output": "text",
    "error": "text",
    "clarification_questions": "jsonb",
    "dead_letter_reason": "text",
}
# What entering a state does besides `status`: stamp a time, or let go of the worker that held the task.
_STAMPED_ON_ENTER: dict[str, frozenset[S]] = {
    "queued_at": frozenset({S.QUEUED}),
    "completed_at": TERMINAL_STATES,
}
_RELEASES_WORKER = frozenset({S.QUEUED, S.PENDING_HUMAN_REVIEW, S.CLARIFICATION_NEEDED} | TERMINAL_STATES)
# Leaving `failed` (a dead-lettered task re-queued) starts afresh: these are cleared and `retries` is 0.
_CLEARED_ON_REVIVAL = ("error", "dead_letter_reason", "dead_lettered_at", "completed_at")
_GUARD_SQL: dict[Guard, str] = {Guard.DEAD_LETTERED: "dead_lettered_at IS NOT NULL"}


def _states(states: frozenset[S]) -> str:
    return "'{" + ",".join(sorted(s.value for s in states)) + "}'::text[]"


# The per-write input columns of `WRITE_SQL`, in parameter order (`$1` is the first), with their SQL types.
_WRITE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("from_status", "text"),
    ("to_status", "text"),
    ("fence_worker", "text"),
    ("fence_attempts", "int"),
    ("checkpoint_patch", "jsonb"),
    ("add_cost", "numeric"),
    ("add_retries", "int"),
    ("dead_lettered", "bool"),
    *((f"guard_{guard.value}", "bool") for guard in Guard),
    *(
        column
        for name, cast in SETTABLE.items()
        for column in ((f"set_{name}", "bool"), (f"new_{name}", cast))
    ),
)
# The timeline rows, findings and artifacts of a batch, each row naming its task.
_EVENT_COLUMNS = (("task_id", "uuid"), ("kind", "text"), ("from_status", "text"), ("to_status", "text"),
                  ("stage", "text"), ("detail", "text"), ("worker_id", "text"))  # fmt: skip
_FINDING_COLUMNS = (("task_id", "uuid"), ("stage", "text"), ("iteration", "int"), ("ordinal", "int"),
                    ("type", "text"), ("severity", "text"), ("description", "text"), ("evidence", "text"))  # fmt: skip
_REVIEW_COLUMNS = (("task_id", "uuid"), ("stage", "text"), ("iteration", "int"), ("verdict", "text"),
                   ("summary", "text"), ("issues", "jsonb"))  # fmt: skip
_ARTIFACT_COLUMNS = (("task_id", "uuid"), ("stage", "text"), ("iteration", "int"), ("name", "text"),
                     ("artifact_type", "text"), ("content", "text"))  # fmt: skip


def _unnest(columns: tuple[tuple[str, str], ...], first: int, alias: str, *, ordinality: bool = False) -> str:
    """`unnest($first::t1[], ...) AS alias(c1, ...)` over parameters `first`, `first + 1`, ..."""
    arrays = ", ".join(
        f"${first + i}::{'text' if cast == 'jsonb' else cast}[]" for i, (_, cast) in enumerate(columns)
    )
    names = ", ".join(name for name, _ in columns)
    return f"unnest({arrays}){' WITH ORDINALITY' if ordinality else ''} AS {alias}({names}{', ord' if ordinality else ''})"


def _write_sql() -> str:
    """The one statement every task change runs, for one write or a batch of them (one row each).

    Rendered, shortened (`...` stands for the same pattern over the other columns of each table above; the
    whole text is kept in `orchestrator/tests/snapshots/pipeline_write.sql`, which a test compares):

        WITH moved AS (
            UPDATE pipeline_tasks t SET status = w.to_status, updated_at = clock_timestamp(),
                checkpoint = CASE WHEN w.checkpoint_patch IS NULL THEN t.checkpoint
                             ELSE t.checkpoint || w.checkpoint_patch::jsonb END,
                cost_usd = t.cost_usd + w.add_cost,
                retries = CASE WHEN (w.from_status = 'failed' AND w.to_status <> w.from_status) THEN 0
                          ELSE t.retries + w.add_retries END,
                queued_at = CASE WHEN w.to_status <> w.from_status AND w.to_status = ANY('{queued}'::text[])
                            THEN clock_timestamp() ELSE t.queued_at END,
                worker_id = CASE WHEN w.to_status <> w.from_status AND w.to_status = ANY('{cancelled,...}'::text[])
                            THEN NULL ELSE t.worker_id END,
                output = CASE WHEN w.set_output THEN w.new_output ELSE t.output END, ...
            FROM unnest($1::uuid[], $2::text[], $3::text[], ..., $20::text[])
                 AS w(id, from_status, to_status, ..., new_dead_letter_reason)
            WHERE t.id = w.id AND t.status = w.from_status
                  AND (w.fence_worker IS NULL OR t.worker_id = w.fence_worker)
                  AND (w.fence_attempts IS NULL OR t.attempts = w.fence_attempts)
                  AND (NOT w.guard_dead_lettered OR t.dead_lettered_at IS NOT NULL)
            RETURNING t.*
        ), logged AS (
            INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, stage, detail, worker_id)
            SELECT e.task_id, e.kind, ... FROM unnest($21::uuid[], ..., $27::text[]) WITH ORDINALITY
                 AS e(task_id, kind, ..., worker_id, ord)
            WHERE e.task_id IN (SELECT id FROM moved) ORDER BY e.ord
        ), found AS (INSERT INTO pipeline_findings ... unnest($28 ... $35) ... ON CONFLICT DO NOTHING
        ), reviewed AS (INSERT INTO pipeline_reviews ... unnest($36 ... $41) ... ON CONFLICT DO NOTHING
        ), kept AS (INSERT INTO pipeline_artifacts ... unnest($42 ... $47) ... ON CONFLICT DO NOTHING
        )
        SELECT * FROM moved

    Each parameter is one array with an element per write (or per timeline row, finding, review, artifact,
    each naming its task), so a batch of writes is still one statement; `write_args` builds them.
    """
    moves = "w.to_status <> w.from_status"
    revives = f"(w.from_status = '{S.FAILED.value}' AND {moves})"
    sets = [
        "status = w.to_status",
        "updated_at = clock_timestamp()",
        # An unchanged checkpoint keeps its stored value (no re-TOASTing of a large one on every write).
        "checkpoint = CASE WHEN w.checkpoint_patch IS NULL THEN t.checkpoint"
        " ELSE t.checkpoint || w.checkpoint_patch::jsonb END",
        "cost_usd = t.cost_usd + w.add_cost",
        f"retries = CASE WHEN {revives} THEN 0 ELSE t.retries + w.add_retries END",
        f"dead_lettered_at = CASE WHEN w.dead_lettered THEN clock_timestamp() WHEN {revives} THEN NULL"
        " ELSE t.dead_lettered_at END",
        *(
            f"{column} = CASE WHEN {moves} AND w.to_status = ANY({_states(states)}) THEN clock_timestamp()"
            + (f" WHEN {revives} THEN NULL" if column in _CLEARED_ON_REVIVAL else "")
            + f" ELSE t.{column} END"
            for column, states in _STAMPED_ON_ENTER.items()
        ),
        *(
            f"{column} = CASE WHEN {moves} AND w.to_status = ANY({_states(_RELEASES_WORKER)}) THEN NULL"
            f" ELSE t.{column} END"
            for column in ("worker_id", "heartbeat_at")
        ),
        *(
            f"{name} = CASE WHEN w.set_{name} THEN w.new_{name}{'::jsonb' if cast == 'jsonb' else ''}"
            + (f" WHEN {revives} THEN NULL" if name in _CLEARED_ON_REVIVAL else "")
            + f" ELSE t.{name} END"
            for name, cast in SETTABLE.items()
        ),
    ]
    guards = " AND ".join(f"(NOT w.guard_{guard.value} OR t.{_GUARD_SQL[guard]})" for guard in Guard)
    first_event = 1 + len(_WRITE_COLUMNS)
    first_finding = first_event + len(_EVENT_COLUMNS)
    first_review = first_finding + len(_FINDING_COLUMNS)
    first_artifact = first_review + len(_REVIEW_COLUMNS)
    return f"""WITH moved AS (
        UPDATE pipeline_tasks t SET {", ".join(sets)}
        FROM {_unnest(_WRITE_COLUMNS, 1, "w")}
        WHERE t.id = w.id AND t.status = w.from_status
              AND (w.fence_worker IS NULL OR t.worker_id = w.fence_worker)
              AND (w.fence_attempts IS NULL OR t.attempts = w.fence_attempts) AND {guards}
        RETURNING t.*
    ), logged AS (
        INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, stage, detail, worker_id)
        SELECT e.task_id, e.kind, e.from_status, e.to_status, e.stage, e.detail, e.worker_id
        FROM {_unnest(_EVENT_COLUMNS, first_event, "e", ordinality=True)}
        WHERE e.task_id IN (SELECT id FROM moved)
        ORDER BY e.ord
    ), found AS (
        -- Keyed by (task, stage, iteration, ordinal/name): a stage re-run after a crash adds no second copy.
        INSERT INTO pipeline_findings (task_id, stage, iteration, ordinal, type, severity, description, evidence)
        SELECT f.task_id, f.stage, f.iteration, f.ordinal, f.type, f.severity, f.description, f.evidence
        FROM {_unnest(_FINDING_COLUMNS, first_finding, "f")}
        WHERE f.task_id IN (SELECT id FROM moved)
        ON CONFLICT DO NOTHING
    ), reviewed AS (
        INSERT INTO pipeline_reviews (task_id, stage, iteration, verdict, summary, issues)
        SELECT r.task_id, r.stage, r.iteration, r.verdict, r.summary, r.issues::jsonb
        FROM {_unnest(_REVIEW_COLUMNS, first_review, "r")}
        WHERE r.task_id IN (SELECT id FROM moved)
        ON CONFLICT DO NOTHING
    ), kept AS (
        INSERT INTO pipeline_artifacts (task_id, stage, iteration, name, artifact_type, content)
        SELECT a.task_id, a.stage, a.iteration, a.name, a.artifact_type, a.content
        FROM {_unnest(_ARTIFACT_COLUMNS, first_artifact, "a")}
        WHERE a.task_id IN (SELECT id FROM moved)
        ON CONFLICT DO NOTHING
    )
    SELECT * FROM moved"""  # noqa: S608 - built from the tables above and placeholders only


WRITE_SQL = _write_sql()


# Columns that never change after submission: a worker holding the task need not decode them again.
FIXED_COLUMNS = frozenset({"goal", "pod", "tags", "metadata"})


def task_dict(record: asyncpg.Record, *, without: frozenset[str] = frozenset()) -> dict[str, Any]:
    data = {k: v for k, v in record.items() if k not in without} if without else dict(record)
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


@dataclass(frozen=True)
class Hop:
    """One state transition of a write, recorded as one timeline row."""

    target: S
    stage: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Note:
    """A timeline row that is not a transition (`stage_completed`, `stage_retry`, `note`…)."""

    kind: str
    stage: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Claim:
    """A queued task a worker takes, into the state of its first unfinished stage."""

    task_id: uuid.UUID
    state: S
    stage: str
    # The attempts the worker read: the claim succeeds only if no other claim happened since.
    attempts: int


@dataclass(frozen=True)
class NewTask:
    """A task to persist at submission; `entry` is the state and stage its first claim moves it to while its
    checkpoint is empty."""

    goal: str
    pod_id: uuid.UUID | None
    pod: dict[str, Any]
    tags: list[str]
    metadata: dict[str, Any]
    max_retries: int
    owner_kind: str
    api_key_id: str | None
    entry: tuple[S, str]
    goal_id: uuid.UUID | None = None


@dataclass
class StageRecords:
    """What a finished stage leaves behind besides its checkpoint entry."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    review: dict[str, Any] | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TaskWrite:
    """One change to a task in `current`: patch its checkpoint, add cost, set `values`, record `notes` then
    move along `hops`, and keep the stage's `records`; all or nothing. With `fence`, only while that claim
    still holds the task; with `expect_attempts`, only if nobody claimed it since."""

    task_id: uuid.UUID
    current: S
    hops: Sequence[Hop] = ()
    fence: Fence | None = None
    # Who the timeline names; the fence's worker by default.
    worker_id: str | None = None
    expect_attempts: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    checkpoint_patch: dict[str, Any] | None = None
    cost_usd: float = 0.0
    notes: Sequence[Note] = ()
    records: StageRecords | None = None
    records_stage: str = ""
    iteration: int = 0
    count_retry: bool = False
    dead_lettered: bool = False

    @property
    def target(self) -> S:
        return self.hops[-1].target if self.hops else self.current

    def check(self) -> set[Guard]:
        """The guards the hops need; `IllegalTransition` for a hop the state machine forbids."""
        unknown = set(self.values) - set(SETTABLE)
        if unknown:
            raise ValueError(f"not settable by a task write: {sorted(unknown)}")
        guards: set[Guard] = set()
        state = self.current
        for hop in self.hops:
            guard = check_transition(state, hop.target)
            if guard is not None:
                guards.add(guard)
            state = hop.target
        return guards

    def rows(
        self,
    ) -> tuple[
        tuple[Any, ...],
        list[tuple[Any, ...]],
        list[tuple[Any, ...]],
        list[tuple[Any, ...]],
        list[tuple[Any, ...]],
    ]:
        """This write's rows of `WRITE_SQL`'s inputs: the write, its timeline rows, findings, review,
        artifacts."""
        guards = self.check()
        fence = self.fence
        actor = self.worker_id or (fence.worker_id if fence else None)
        events: list[tuple[Any, ...]] = [
            (self.task_id, n.kind, None, None, n.stage, n.detail, actor) for n in self.notes
        ]
        state = self.current
        for hop in self.hops:
            events.append(
                (self.task_id, "transition", state.value, hop.target.value, hop.stage, hop.detail, actor)
            )
            state = hop.target
        settable: list[Any] = []
        for name, cast in SETTABLE.items():
            value = self.values.get(name)
            settable += [
                name in self.values,
                json.dumps(value) if cast == "jsonb" and value is not None else value,
            ]
        write = (
            self.task_id,
            self.current.value,
            state.value,
            fence.worker_id if fence else None,
            fence.attempts if fence else self.expect_attempts,
            json.dumps(self.checkpoint_patch) if self.checkpoint_patch else None,
            self.cost_usd,
            1 if self.count_retry else 0,
            self.dead_lettered,
            *(guard in guards for guard in Guard),
            *settable,
        )
        records = self.records or StageRecords()
        at = (self.task_id, self.records_stage, self.iteration)
        findings = [
            (*at, i, f["type"], f["severity"], f["description"], f.get("evidence"))
            for i, f in enumerate(records.findings)
        ]
        review = records.review
        reviews = (
            [(*at, review["verdict"], review.get("summary", ""), json.dumps(review.get("issues", [])))]
            if review is not None
            else []
        )
        artifacts = [(*at, a["name"], a["artifact_type"], a["content"]) for a in records.artifacts]
        return write, events, findings, reviews, artifacts


def write_args(changes: Sequence[TaskWrite]) -> list[Any]:
    """`WRITE_SQL`'s parameters for a batch of writes to different tasks: one array per input column."""
    tables: tuple[list[tuple[Any, ...]], ...] = ([], [], [], [], [])
    for change in changes:
        write, *records = change.rows()
        tables[0].append(write)
        for table, rows in zip(tables[1:], records, strict=True):
            table.extend(rows)
    widths = (len(_WRITE_COLUMNS), len(_EVENT_COLUMNS), len(_FINDING_COLUMNS), len(_REVIEW_COLUMNS),
              len(_ARTIFACT_COLUMNS))  # fmt: skip
    args: list[Any] = []
    for table, width in zip(tables, widths, strict=True):
        args += [list(column) for column in zip(*table, strict=True)] if table else [[] for _ in range(width)]
    return args


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
        owner_kind: str,
        api_key_id: str | None,
        entry: tuple[S, str],
        goal_id: uuid.UUID | None = None,
        on_committed: Callable[[list[uuid.UUID]], Awaitable[object]] | None = None,
    ) -> dict[str, Any]:
        """Persist one task as `queued` (see `insert_tasks`)."""
        new = NewTask(goal, pod_id, pod, tags, metadata, max_retries, owner_kind, api_key_id, entry, goal_id)
        return (await self.insert_tasks([new], on_committed=on_committed))[0]

    async def insert_tasks(
        self,
        tasks: Sequence[NewTask],
        *,
        on_committed: Callable[[list[uuid.UUID]], Awaitable[object]] | None = None,
    ) -> list[dict[str, Any]]:
        """Persist tasks as `queued`, each with its `submitted` and `submitted → queued` timeline rows, in one
        statement and one commit (all or none); the stored rows, in the order given.

        `on_committed` gets their ids once they are committed (and the connection is back in the pool): only
        then may the ids be pushed, or a worker could look for a task that a rollback never let exist."""
        records = await self._insert(tasks, "*", on_committed)
        return [task_dict(record) for record in records]

    async def insert_task_ids(
        self,
        tasks: Sequence[NewTask],
        *,
        on_committed: Callable[[list[uuid.UUID]], Awaitable[object]] | None = None,
    ) -> list[uuid.UUID]:
        """`insert_tasks` answering only the ids: a batch's caller needs no rows (nor their JSON decoded)."""
        return [record["id"] for record in await self._insert(tasks, "id", on_committed)]

    async def _insert(
        self,
        tasks: Sequence[NewTask],
        columns: str,
        on_committed: Callable[[list[uuid.UUID]], Awaitable[object]] | None,
    ) -> list[asyncpg.Record]:
        for task in tasks:
            check_transition(S.QUEUED, task.entry[0])
        # Ids are chosen here so the rows come back in the caller's order (RETURNING has no order).
        ids = [uuid.uuid4() for _ in tasks]
        # The tasks of a batch mostly share a pod snapshot (one dict): it is serialised once.
        pods: dict[int, str] = {}
        async with self.pool.acquire() as conn:
            records = await conn.fetch(
                f"""WITH task AS (
                   INSERT INTO pipeline_tasks (id, goal, status, pod_id, pod, tags, metadata, max_retries, api_key_id,
                                               queued_at, entry_status, entry_stage, owner_kind, goal_id)
                   SELECT n.id, n.goal, 'queued', n.pod_id, n.pod::jsonb, n.tags::jsonb, n.metadata::jsonb,
                          n.max_retries, n.api_key_id, clock_timestamp(), n.entry_status, n.entry_stage,
                          n.owner_kind, n.goal_id
                   FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::int[],
                               $8::uuid[], $9::text[], $10::text[], $11::text[], $12::uuid[]) WITH ORDINALITY
                        AS n(id, goal, pod_id, pod, tags, metadata, max_retries, api_key_id, entry_status,
                             entry_stage, owner_kind, goal_id, ord)
                   ORDER BY n.ord
                   RETURNING *
               ), logged AS (
                   INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, detail)
                   SELECT n.id, 'transition', e.from_status, e.to_status, e.detail
                   FROM unnest($1::uuid[]) WITH ORDINALITY AS n(id, ord),
                        (VALUES (1, NULL, 'submitted', 'persisted'), (2, 'submitted', 'queued', NULL))
                        AS e(step, from_status, to_status, detail)
                   ORDER BY n.ord, e.step
               )
               SELECT {columns} FROM task""",  # noqa: S608 - `columns` is one of two constants
                ids,
                [t.goal for t in tasks],
                [t.pod_id for t in tasks],
                [pods.get(id(t.pod)) or pods.setdefault(id(t.pod), json.dumps(t.pod)) for t in tasks],
                [json.dumps(t.tags) for t in tasks],
                [json.dumps(t.metadata) for t in tasks],
                [t.max_retries for t in tasks],
                [t.api_key_id for t in tasks],
                [t.entry[0].value for t in tasks],
                [t.entry[1] for t in tasks],
                [t.owner_kind for t in tasks],
                [t.goal_id for t in tasks],
            )
        by_id = {record["id"]: record for record in records}
        if on_committed is not None:
            await on_committed(ids)
        return [by_id[task_id] for task_id in ids]

    async def goal_owners(
        self, goal_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, uuid.UUID | None]]:
        """The owner columns of each of `goal_ids` that exists."""
        rows = await self.pool.fetch(
            "SELECT id, owner_kind, api_key_id FROM goals WHERE id = ANY($1::uuid[])", list(goal_ids)
        )
        return {row["id"]: (row["owner_kind"], row["api_key_id"]) for row in rows}

    async def finished_goal_tasks(self, task_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
        """Those of `task_ids` that belong to a goal, with their final status and cost."""
        return await self.pool.fetch(
            """SELECT id, goal_id, status, cost_usd FROM pipeline_tasks
               WHERE id = ANY($1::uuid[]) AND goal_id IS NOT NULL""",
            list(task_ids),
        )

    async def get(self, task_id: uuid.UUID) -> dict[str, Any] | None:
        record = await self.pool.fetchrow("SELECT * FROM pipeline_tasks WHERE id = $1", task_id)
        return task_dict(record) if record else None

    async def queued(self, task_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """Those of `task_ids` still queued (the others finished, were cancelled, or were claimed meanwhile)."""
        rows = await self.pool.fetch(
            "SELECT * FROM pipeline_tasks WHERE id = ANY($1::uuid[]) AND status = 'queued'", list(task_ids)
        )
        return [task_dict(r) for r in rows]

    async def claim_fresh(self, worker_id: str, task_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        """Claim, without reading them first, those of `task_ids` that are queued with an empty checkpoint:
        they start at the entry stage fixed at submission (`queued → entry_status`, legal for every entry)."""
        rows = await self.pool.fetch(
            """WITH moved AS (
                   UPDATE pipeline_tasks
                   SET status = entry_status, current_stage = entry_stage, worker_id = $1, attempts = attempts + 1,
                       heartbeat_at = clock_timestamp(), started_at = clock_timestamp(),
                       first_started_at = COALESCE(first_started_at, clock_timestamp()),
                       updated_at = clock_timestamp()
                   WHERE id = ANY($2::uuid[]) AND status = 'queued' AND checkpoint = '{}'::jsonb
                         AND entry_status IS NOT NULL
                   RETURNING *
               ), logged AS (
                   INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, stage, worker_id)
                   SELECT id, 'transition', 'queued', status, current_stage, $1 FROM moved
               )
               SELECT * FROM moved""",
            worker_id,
            list(task_ids),
        )
        return [task_dict(r) for r in rows]

    async def claim(self, worker_id: str, claims: Sequence[Claim]) -> list[dict[str, Any]]:
        """Claim queued tasks for `worker_id`, each into its first stage, in one statement; return those won.

        A claim bumps `attempts` and succeeds only if `attempts` is still what the worker read: of two
        workers holding the same id, one wins and the other's UPDATE matches no row."""
        for claim in claims:
            check_transition(S.QUEUED, claim.state)
        rows = await self.pool.fetch(
            """WITH wanted AS (
                   SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[]) AS w(id, state, stage, attempts)
               ), moved AS (
                   UPDATE pipeline_tasks t
                   SET status = w.state, current_stage = w.stage, worker_id = $1, attempts = t.attempts + 1,
                       heartbeat_at = clock_timestamp(), started_at = clock_timestamp(),
                       first_started_at = COALESCE(t.first_started_at, clock_timestamp()),
                       updated_at = clock_timestamp()
                   FROM wanted w WHERE t.id = w.id AND t.status = 'queued' AND t.attempts = w.attempts
                   RETURNING t.*
               ), logged AS (
                   INSERT INTO pipeline_task_events (task_id, kind, from_status, to_status, stage, worker_id)
                   SELECT id, 'transition', 'queued', status, current_stage, $1 FROM moved
               )
               SELECT * FROM moved""",
            worker_id,
            [c.task_id for c in claims],
            [c.state.value for c in claims],
            [c.stage for c in claims],
            [c.attempts for c in claims],
        )
        return [task_dict(r) for r in rows]

    async def search(
        self,
        *,
        statuses: list[S] | None,
        pod_id: uuid.UUID | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
        owner: tuple[str | None, str | None] = (None, None),
    ) -> tuple[list[dict[str, Any]], int]:
        """`owner` is `(owner_kind, api_key_id)`, or `(None, None)` for every owner's tasks."""
        where = """($1::text[] IS NULL OR status = ANY($1::text[])) AND ($2::uuid IS NULL OR pod_id = $2)
                   AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
                   AND ($5::text IS NULL OR (owner_kind = $5 AND api_key_id IS NOT DISTINCT FROM $6::uuid))"""
        args = ([s.value for s in statuses] if statuses is not None else None, pod_id, since, until, *owner)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT * FROM pipeline_tasks WHERE {where} ORDER BY created_at DESC, id LIMIT $7 OFFSET $8",  # noqa: S608
                *args,
                limit,
                offset,
            )
            total = await conn.fetchval(f"SELECT count(*) FROM pipeline_tasks WHERE {where}", *args)  # noqa: S608
        return [task_dict(r) for r in rows], int(total)

    async def write(self, change: TaskWrite) -> dict[str, Any] | None:
        """Apply one `TaskWrite`; the new row, or None when the row no longer matched."""
        record = await self.pool.fetchrow(WRITE_SQL, *write_args([change]))
        return task_dict(record) if record else None

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
        checkpoint_patch: dict[str, Any] | None = None,
        count_retry: bool = False,
        expect_attempts: int | None = None,
    ) -> dict[str, Any] | None:
        """Compare-and-set `current → target` and record it; None when the row was no longer in `current`
        (or, with `fence`, no longer held by that worker claim). Illegal transitions raise before any SQL."""
        return await self.write(
            TaskWrite(
                task_id,
                current,
                hops=[Hop(target, stage, detail)],
                fence=fence,
                worker_id=worker_id,
                values=values or {},
                checkpoint_patch=checkpoint_patch,
                count_retry=count_retry,
                expect_attempts=expect_attempts,
            )
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
        """Fail a task whose retries ran out and put it in the dead letter, unless it moved or was claimed again."""
        return await self.write(
            TaskWrite(
                task_id, current, hops=[Hop(S.FAILED, None, reason)], worker_id="reaper", expect_attempts=attempts,
                values={"error": reason, "dead_letter_reason": reason}, dead_lettered=True,
            )
        )  # fmt: skip

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
        """Queue a dead-lettered task again with fresh retries (the state machine's guarded `failed → queued`)."""
        return await self.transition(
            task_id, S.FAILED, S.QUEUED, detail="re-queued from the dead letter", worker_id="admin"
        )

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

    async def delete_finished(self, task_id: uuid.UUID) -> bool:
        """Delete a task in a terminal state (its timeline and records cascade); False when it is not one."""
        status = await self.pool.execute(
            "DELETE FROM pipeline_tasks WHERE id = $1 AND status = ANY($2::text[])",
            task_id,
            [s.value for s in TERMINAL_STATES],
        )
        return str(status).endswith(" 1")

    async def delete_by_status(self, status: S, owner: tuple[str | None, str | None]) -> int:
        """Delete every task of `owner` (`(None, None)`: everyone's) in the terminal `status`."""
        assert status in TERMINAL_STATES  # the service refuses active states before this
        result = await self.pool.execute(
            """DELETE FROM pipeline_tasks WHERE status = $1
                   AND ($2::text IS NULL OR (owner_kind = $2 AND api_key_id IS NOT DISTINCT FROM $3::uuid))""",
            status.value,
            *owner,
        )
        return int(str(result).split()[-1])

    async def window_stats(self, hours: int, owner: tuple[str | None, str | None]) -> asyncpg.Record:
        record = await self.pool.fetchrow(
            """WITH mine AS (
                   SELECT * FROM pipeline_tasks
                   WHERE $2::text IS NULL OR (owner_kind = $2 AND api_key_id IS NOT DISTINCT FROM $3::uuid)
               ), recent AS (SELECT * FROM mine WHERE created_at >= now() - make_interval(hours => $1))
               SELECT (SELECT count(*) FROM recent) AS total,
                      (SELECT COALESCE(jsonb_object_agg(status, n), '{}'::jsonb)
                       FROM (SELECT status, count(*) AS n FROM recent GROUP BY status) g) AS by_status,
                      (SELECT COALESCE(sum(cost_usd), 0)::float8 FROM recent) AS cost_usd,
                      (SELECT avg(EXTRACT(EPOCH FROM completed_at - created_at))::float8 FROM recent
                       WHERE status = 'complete' AND completed_at IS NOT NULL) AS avg_duration_seconds,
                      (SELECT count(*) FROM mine
                       WHERE status IN ('clarification_needed', 'pending_human_review')) AS needs_attention""",
            hours,
            *owner,
        )
        assert record is not None
        return record

    async def stage_latency(self, hours: int, owner: tuple[str | None, str | None]) -> list[asyncpg.Record]:
        # A stage starts at the task's last transition or completed stage before its `stage_completed` note:
        # the notes of one write precede its transitions, so that is always an earlier write.
        return list(
            await self.pool.fetch(
                """WITH durations AS (
                       SELECT e.stage, EXTRACT(EPOCH FROM e.created_at - started.at)::float8 AS seconds
                       FROM pipeline_task_events e
                       JOIN pipeline_tasks t ON t.id = e.task_id
                       CROSS JOIN LATERAL (
                           SELECT max(p.created_at) AS at FROM pipeline_task_events p
                           WHERE p.task_id = e.task_id AND p.id < e.id
                             AND p.kind IN ('transition', 'stage_completed')
                       ) started
                       WHERE e.kind = 'stage_completed' AND e.stage IS NOT NULL AND started.at IS NOT NULL
                         AND e.created_at >= now() - make_interval(hours => $1)
                         AND ($2::text IS NULL OR (t.owner_kind = $2 AND t.api_key_id IS NOT DISTINCT FROM $3::uuid))
                   )
                   SELECT stage, count(*) AS count,
                          percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50_seconds,
                          percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95_seconds
                   FROM durations GROUP BY stage ORDER BY stage""",
                hours,
                *owner,
            )
        )

    async def end_to_end_latency(self, hours: int, owner: tuple[str | None, str | None]) -> asyncpg.Record:
        record = await self.pool.fetchrow(
            """WITH durations AS (
                   SELECT EXTRACT(EPOCH FROM completed_at - created_at)::float8 AS seconds FROM pipeline_tasks
                   WHERE status = 'complete' AND completed_at >= now() - make_interval(hours => $1)
                     AND ($2::text IS NULL OR (owner_kind = $2 AND api_key_id IS NOT DISTINCT FROM $3::uuid))
               )
               SELECT count(*) AS count,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50_seconds,
                      percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95_seconds
               FROM durations""",
            hours,
            *owner,
        )
        assert record is not None
        return record

    async def spend(self, task_id: uuid.UUID) -> float:
        """What the gateway recorded for this task's model calls, killed attempts included."""
        value = await self.pool.fetchval(
            "SELECT COALESCE(sum(cost_usd), 0)::float8 FROM usage_events WHERE task_id = $1", str(task_id)
        )
        return float(value or 0.0)

    async def similar_completed(
        self, task_id: uuid.UUID, query: str, *, limit: int, candidates: int
    ) -> list[asyncpg.Record]:
        """Recently completed tasks whose goal shares words with `query` (a `to_tsquery` text), best first."""
        if not query:
            return []
        # Ranked among the most recent completions only: bounded work, and recent answers are the relevant ones.
        return list(
            await self.pool.fetch(
                """WITH recent AS (
                       SELECT id, goal, output, completed_at, pod->>'name' AS pod_name,
                              to_tsvector('english', left(goal, 4000)) AS words
                       FROM pipeline_tasks WHERE status = 'complete' AND id <> $1
                       ORDER BY created_at DESC LIMIT $4
                   ), query AS (SELECT to_tsquery('english', $2) AS q)
                   SELECT id, goal, output, completed_at, pod_name, ts_rank(words, q) AS rank
                   FROM recent, query WHERE words @@ q
                   ORDER BY rank DESC, completed_at DESC LIMIT $3""",
                task_id,
                query,
                limit,
                candidates,
            )
        )

    # `limit=None` (every row) is for the pipeline itself; the API passes a page.
    async def timeline(
        self, task_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT kind, from_status, to_status, stage, detail, worker_id, created_at AS at
                   FROM pipeline_task_events WHERE task_id = $1 ORDER BY id LIMIT $2 OFFSET $3""",
                task_id,
                limit,
                offset,
            )
        )

    async def findings(
        self, task_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT * FROM pipeline_findings WHERE task_id = $1 ORDER BY created_at, iteration, ordinal
                   LIMIT $2 OFFSET $3""",
                task_id,
                limit,
                offset,
            )
        )

    async def reviews(
        self, task_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT * FROM pipeline_reviews WHERE task_id = $1 ORDER BY created_at, iteration LIMIT $2 OFFSET $3",
            task_id,
            limit,
            offset,
        )
        return [{**dict(r), "issues": json.loads(r["issues"])} for r in rows]

    async def artifacts(
        self, task_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT * FROM pipeline_artifacts WHERE task_id = $1 ORDER BY created_at, iteration, name
                   LIMIT $2 OFFSET $3""",
                task_id,
                limit,
                offset,
            )
        )
