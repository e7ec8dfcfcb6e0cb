"""Goal rules: who owns and sees a goal, when a schedule fires next, and how the maturation track moves.

cortex hears about every change through a stimulus pushed onto its Redis list (DB 5), so an idle cortex
can block there instead of polling the table. A stimulus that cannot be pushed is logged and dropped: the
goal itself is committed, and cortex's periodic scan finds it anyway.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog
from cron_descriptor import get_description
from croniter import croniter
from pydantic import ValidationError
from redis.exceptions import RedisError

from nova_common.auth import Principal
from nova_common.errors import BadRequest, Conflict, Forbidden, NotFound
from nova_contracts.goals import (
    CORTEX_STIMULI_KEY,
    Comment,
    CommentCreate,
    Goal,
    GoalCreate,
    GoalCreator,
    GoalIteration,
    GoalIterationCreate,
    GoalIterationUpdate,
    GoalStats,
    GoalStatus,
    GoalTask,
    GoalUpdate,
    MaturationStage,
    Reflection,
    ReflectionCreate,
    SchedulePreview,
    SpecSubmit,
    Stimulus,
    StimulusType,
)
from orchestrator.goals.repository import GoalRepository
from orchestrator.keys.tenant import Tenant

log = structlog.get_logger("orchestrator.goals")

# Where cortex may move a goal's maturation from each stage; review is left only by a person's decision.
_MATURATION_MOVES: dict[MaturationStage | None, set[MaturationStage | None]] = {
    MaturationStage.TRIAGE: {MaturationStage.SCOPING, None},
    MaturationStage.SCOPING: {MaturationStage.SPECCING},
    MaturationStage.SPECCING: {MaturationStage.REVIEW},
    MaturationStage.REVIEW: set(),
    MaturationStage.BUILDING: {MaturationStage.VERIFYING},
    MaturationStage.VERIFYING: {MaturationStage.DONE, MaturationStage.REVIEW},
    MaturationStage.DONE: set(),
    None: {MaturationStage.SCOPING},
}


def next_fire(expression: str, after: datetime) -> datetime:
    """When a cron schedule fires next after `after` (UTC); a bad expression is the caller's 422."""
    if not croniter.is_valid(expression):
        raise BadRequest(
            f"schedule_cron {expression!r} is not a cron expression: use five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 9 * * 1', or @hourly/@daily/@weekly"
        )
    fired: datetime = croniter(expression, after).get_next(datetime)
    return fired.astimezone(UTC)


def describe_schedule(expression: str | None) -> str | None:
    if expression is None:
        return None
    try:
        return str(get_description(expression))
    except Exception:  # the description is a convenience; the schedule itself was validated by croniter
        return None


def preview_schedule(expression: str, now: datetime, count: int = 3) -> SchedulePreview:
    runs: list[datetime] = []
    after = now
    for _ in range(count):
        after = next_fire(expression, after)
        runs.append(after)
    return SchedulePreview(
        schedule_cron=expression, description=describe_schedule(expression), next_runs=runs
    )


def creator_of(principal: Principal) -> GoalCreator:
    return {
        "admin": GoalCreator.ADMIN,
        "api_key": GoalCreator.API_KEY,
        "service": GoalCreator.CORTEX,
    }.get(principal.kind, GoalCreator.LOCAL)


def author_of(principal: Principal) -> str:
    if principal.kind == "service":
        return "cortex"
    return Tenant.of(principal).owner


class GoalService:
    def __init__(self, repository: GoalRepository, stimuli_redis: aioredis.Redis | None) -> None:
        self.repository = repository
        self.stimuli_redis = stimuli_redis

    @staticmethod
    def _goal(row: dict[str, Any]) -> Goal:
        owner = Tenant.from_columns(row["owner_kind"], row["api_key_id"]).owner
        return Goal.model_validate(
            {**row, "owner": owner, "schedule_description": describe_schedule(row["schedule_cron"])}
        )

    async def notify(self, kind: StimulusType, goal_id: uuid.UUID | None, **payload: Any) -> None:
        if self.stimuli_redis is None:
            return
        stimulus = Stimulus(type=kind, goal_id=goal_id, payload=payload, at=datetime.now(UTC))
        try:
            await self.stimuli_redis.lpush(CORTEX_STIMULI_KEY, stimulus.model_dump_json())
        except (RedisError, OSError) as exc:
            log.warning("stimulus_not_delivered", type=kind.value, error=type(exc).__name__)

    async def _visible(self, goal_id: uuid.UUID, tenant: Tenant) -> dict[str, Any]:
        row = await self.repository.get(goal_id, tenant.scope())
        if row is None:
            raise NotFound(f"goal {goal_id} not found")
        return row

    # Goals -----------------------------------------------------------------------------------------------

    async def create(
        self, body: GoalCreate, principal: Principal, *, creator: GoalCreator | None = None
    ) -> Goal:
        return await self.create_for(body, Tenant.of(principal), creator or creator_of(principal))

    async def create_for(self, body: GoalCreate, tenant: Tenant, creator: GoalCreator) -> Goal:
        """A goal owned by `tenant` (the chat tool creates one for the turn's caller)."""
        values = body.model_dump(exclude={"complex"})
        if body.schedule_cron is not None:
            values["schedule_next_at"] = next_fire(body.schedule_cron, datetime.now(UTC))
        # Unknown complexity waits for cortex's triage; a goal declared complex starts scoping at once.
        values["maturation_status"] = {None: "triage", True: "scoping", False: None}[body.complex]
        row = await self.repository.insert(
            values,
            created_by=creator.value,
            owner_kind=tenant.kind,
            api_key_id=tenant.api_key_id,
        )
        await self.notify(StimulusType.GOAL_CREATED, row["id"], priority=row["priority"])
        return self._goal(row)

    async def page(self, tenant: Tenant, *, status: GoalStatus | None, limit: int, offset: int) -> list[Goal]:
        rows = await self.repository.page(
            tenant.scope(), status=status.value if status else None, limit=limit, offset=offset
        )
        return [self._goal(r) for r in rows]

    async def get(self, goal_id: uuid.UUID, tenant: Tenant) -> Goal:
        return self._goal(await self._visible(goal_id, tenant))

    async def update(self, goal_id: uuid.UUID, body: GoalUpdate, tenant: Tenant) -> Goal:
        await self._visible(goal_id, tenant)
        values = body.model_dump(exclude_unset=True)
        if "schedule_cron" in values:
            cron = values["schedule_cron"]
            values["schedule_next_at"] = None if cron is None else next_fire(cron, datetime.now(UTC))
        row = await self.repository.update(goal_id, values)
        if row is None:
            raise NotFound(f"goal {goal_id} not found")
        await self.notify(StimulusType.GOAL_UPDATED, goal_id, fields=sorted(values))
        return self._goal(row)

    async def delete(self, goal_id: uuid.UUID, tenant: Tenant) -> None:
        await self._visible(goal_id, tenant)
        await self.repository.delete(goal_id)

    async def stats(self, tenant: Tenant) -> GoalStats:
        return GoalStats.model_validate(await self.repository.stats(tenant.scope()))

    async def trigger(self, goal_id: uuid.UUID, tenant: Tenant) -> Goal:
        """Ask cortex to work on the goal on its next cycle, whatever the drives say."""
        row = await self._visible(goal_id, tenant)
        if row["status"] != GoalStatus.ACTIVE:
            raise Conflict(f"goal {goal_id} is {row['status']}; resume it before running it")
        await self.notify(StimulusType.GOAL_TRIGGERED, goal_id)
        return self._goal(row)

    async def fire_schedule(self, goal_id: uuid.UUID, now: datetime) -> Goal | None:
        """Take a due schedule: count it and move to the first slot after `now`, so a goal that fell due
        while cortex was down fires once, not once per missed slot. None when it was not (or no longer) due."""
        row = await self.repository.get(goal_id, (None, None))
        if row is None or row["schedule_cron"] is None:
            raise NotFound(f"goal {goal_id} has no schedule")
        fired = await self.repository.fire_schedule(goal_id, now, next_fire(row["schedule_cron"], now))
        return self._goal(fired) if fired else None

    async def due(self, now: datetime, limit: int) -> list[Goal]:
        return [self._goal(r) for r in await self.repository.due_schedules(now, limit)]

    async def tasks(self, goal_id: uuid.UUID, tenant: Tenant, limit: int, offset: int) -> list[GoalTask]:
        await self._visible(goal_id, tenant)
        rows = await self.repository.tasks(goal_id, limit, offset)
        return [GoalTask.model_validate(r) for r in rows]

    # Maturation ------------------------------------------------------------------------------------------

    async def advance(self, goal_id: uuid.UUID, body: SpecSubmit) -> Goal:
        """cortex moves the goal along its track; entering review needs the spec the person will read."""
        row = await self._visible(goal_id, Tenant("admin"))
        current = MaturationStage(row["maturation_status"]) if row["maturation_status"] else None
        if body.stage not in _MATURATION_MOVES[current]:
            target = body.stage.value if body.stage else "no stage"
            raise Conflict(
                f"goal {goal_id} is at {current.value if current else 'no stage'}; cannot move to {target}"
            )
        if body.stage is MaturationStage.REVIEW and not (body.spec or row["spec"]):
            raise BadRequest("a spec is required to put the goal up for review")
        values: dict[str, Any] = {"maturation_status": body.stage.value if body.stage else None}
        if body.spec is not None:
            values["spec"] = body.spec
        if body.stage is MaturationStage.DONE:
            values.update(status=GoalStatus.COMPLETED.value, progress=1.0)
        updated = await self.repository.update(goal_id, values)
        assert updated is not None
        return self._goal(updated)

    async def review_spec(
        self, goal_id: uuid.UUID, tenant: Tenant, principal: Principal, *, approve: bool, feedback: str | None
    ) -> Goal:
        if principal.kind == "service":
            raise Forbidden("a spec is approved or rejected by a person, not by a service")
        row = await self._visible(goal_id, tenant)
        if row["maturation_status"] != MaturationStage.REVIEW:
            raise Conflict(
                f"goal {goal_id} has no spec awaiting review (it is at {row['maturation_status'] or 'no stage'})"
            )
        stage = MaturationStage.BUILDING if approve else MaturationStage.SPECCING
        updated = await self.repository.update(
            goal_id, {"maturation_status": stage.value, "spec_feedback": feedback}
        )
        assert updated is not None
        verdict = "approved the spec" if approve else "rejected the spec"
        await self.repository.insert_comment(
            goal_id, author_of(principal), verdict + (f": {feedback}" if feedback else "")
        )
        kind = StimulusType.GOAL_SPEC_APPROVED if approve else StimulusType.GOAL_SPEC_REJECTED
        await self.notify(kind, goal_id)
        return self._goal(updated)

    # Iterations, reflections, comments -------------------------------------------------------------------

    async def record_iteration(
        self, goal_id: uuid.UUID, body: GoalIterationCreate
    ) -> tuple[GoalIteration, bool]:
        await self._visible(goal_id, Tenant("admin"))
        row, created = await self.repository.insert_iteration(
            goal_id, body.iteration, body.plan, body.pipeline_task_id
        )
        return GoalIteration.model_validate(row), created

    async def finish_iteration(
        self, goal_id: uuid.UUID, iteration_id: uuid.UUID, body: GoalIterationUpdate
    ) -> GoalIteration:
        values = body.model_dump(exclude_unset=True)
        progress = values.pop("progress", None)
        for key in ("outcome",):
            if key in values and values[key] is not None:
                values[key] = str(values[key].value if hasattr(values[key], "value") else values[key])
        row = await self.repository.update_iteration(goal_id, iteration_id, values, progress)
        if row is None:
            raise NotFound(f"iteration {iteration_id} of goal {goal_id} not found")
        return GoalIteration.model_validate(row)

    async def iterations(
        self, goal_id: uuid.UUID, tenant: Tenant, limit: int, offset: int
    ) -> list[GoalIteration]:
        await self._visible(goal_id, tenant)
        rows = await self.repository.iterations(goal_id, limit, offset)
        return [GoalIteration.model_validate(r) for r in rows]

    async def add_reflection(self, goal_id: uuid.UUID, body: ReflectionCreate) -> Reflection:
        await self._visible(goal_id, Tenant("admin"))
        row = await self.repository.insert_reflection(goal_id, body.model_dump(mode="json"))
        return Reflection.model_validate(row)

    async def reflections(
        self, goal_id: uuid.UUID, tenant: Tenant, limit: int, offset: int
    ) -> list[Reflection]:
        await self._visible(goal_id, tenant)
        return [
            Reflection.model_validate(r) for r in await self.repository.reflections(goal_id, limit, offset)
        ]

    async def add_comment(
        self, goal_id: uuid.UUID, body: CommentCreate, tenant: Tenant, principal: Principal
    ) -> Comment:
        await self._visible(goal_id, tenant)
        row = await self.repository.insert_comment(goal_id, author_of(principal), body.body)
        if principal.kind != "service":  # cortex's own notes are not news to cortex
            await self.notify(StimulusType.GOAL_COMMENTED, goal_id)
        return Comment.model_validate(row)

    async def comments(self, goal_id: uuid.UUID, tenant: Tenant, limit: int, offset: int) -> list[Comment]:
        await self._visible(goal_id, tenant)
        return [Comment.model_validate(r) for r in await self.repository.comments(goal_id, limit, offset)]


def parse_goal(data: dict[str, Any]) -> GoalCreate:
    """A goal described by a tool call (the chat `create_goal` tool), validated like an API request."""
    try:
        return GoalCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "goal"
        raise BadRequest(f"{where}: {first['msg']}") from exc


def goal_card(goal: Goal) -> str:
    """What the chat tool answers: enough for the model to tell the user what was set up, and when."""
    parts = [f"Created goal {goal.title!r} (id {goal.id}, priority {goal.priority})"]
    if goal.schedule_cron:
        when = goal.schedule_description or goal.schedule_cron
        parts.append(f"runs {when} (cron {goal.schedule_cron}, UTC)")
        if goal.schedule_next_at:
            parts.append(f"next run {goal.schedule_next_at.isoformat(timespec='minutes')}")
    return "; ".join(parts) + ". It is on the Goals page."
