"""Goals: what Nova works towards on its own (orchestrator owns them, cortex pursues them).

A goal is pursued in iterations: cortex plans one attempt, submits it as a pipeline task, and records the
outcome and its cost. Goals judged complex first walk a maturation track (triage → scoping → speccing →
review → building → verifying → done) where a person approves or rejects the spec.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import Field, field_validator

from nova_contracts.base import Metadata, RequestModel, ResponseModel, UpdateRequestModel


class GoalStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class MaturationStage(StrEnum):
    TRIAGE = "triage"
    SCOPING = "scoping"
    SPECCING = "speccing"
    REVIEW = "review"
    BUILDING = "building"
    VERIFYING = "verifying"
    DONE = "done"


class GoalCreator(StrEnum):
    """Who created a goal: the admin, an API key, the anonymous local user, cortex, or the chat tool."""

    ADMIN = "admin"
    API_KEY = "api_key"
    LOCAL = "local"
    CORTEX = "cortex"
    CHAT = "chat"


class IterationOutcome(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


GoalTitle = Annotated[str, Field(min_length=1, max_length=200)]
GoalText = Annotated[str, Field(max_length=20_000)]
Priority = Annotated[int, Field(ge=1, le=5, description="1 is the most important")]
# Five fields (minute hour day-of-month month day-of-week), or a @-alias such as @daily; checked by croniter.
CronExpression = Annotated[str, Field(min_length=1, max_length=100, examples=["0 9 * * 1", "@daily"])]
CostCap = Annotated[float, Field(gt=0, le=100_000)]
CheckInterval = Annotated[int, Field(ge=60, le=30 * 86_400)]


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("may not contain NUL characters")
    return value


class GoalCreate(RequestModel):
    title: GoalTitle
    description: GoalText = ""
    priority: Priority = 3
    max_iterations: int | None = Field(default=50, ge=1, le=10_000)
    max_cost_usd: CostCap | None = None
    check_interval_seconds: CheckInterval = 3600
    schedule_cron: CronExpression | None = None
    max_completions: int | None = Field(default=None, ge=1, le=1_000_000)
    complex: bool | None = Field(
        default=None,
        description="true: walk the maturation track with a spec review; null: let cortex triage it",
    )
    metadata: Metadata = Field(default_factory=dict)

    _text = field_validator("title", "description", "schedule_cron")(_no_nul)


class GoalUpdate(UpdateRequestModel):
    clearable: ClassVar[frozenset[str]] = frozenset(
        {"max_iterations", "max_cost_usd", "schedule_cron", "max_completions"}
    )

    title: GoalTitle | None = None
    description: GoalText | None = None
    priority: Priority | None = None
    status: GoalStatus | None = None
    max_iterations: int | None = Field(default=None, ge=1, le=10_000)
    max_cost_usd: CostCap | None = None
    check_interval_seconds: CheckInterval | None = None
    schedule_cron: CronExpression | None = None
    max_completions: int | None = Field(default=None, ge=1, le=1_000_000)
    metadata: Metadata | None = None

    _text = field_validator("title", "description", "schedule_cron")(_no_nul)


class Goal(ResponseModel):
    id: UUID
    title: str
    description: str = ""
    priority: int
    status: GoalStatus
    progress: float = Field(ge=0, le=1)
    max_iterations: int | None = None
    max_cost_usd: float | None = None
    check_interval_seconds: int
    schedule_cron: str | None = None
    schedule_next_at: datetime | None = None
    schedule_description: str | None = Field(default=None, description="the schedule in words")
    max_completions: int | None = None
    completion_count: int = 0
    iteration_count: int = 0
    current_plan: dict[str, Any] | None = None
    cost_usd: float = 0.0
    maturation_status: MaturationStage | None = None
    spec: str | None = None
    spec_feedback: str | None = None
    created_by: GoalCreator
    owner: str = Field(description='"admin", "key:<api key id>" or "local"')
    metadata: dict[str, Any] = Field(default_factory=dict)
    last_checked_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class SchedulePreview(ResponseModel):
    """What a cron expression means, before a goal is saved with it."""

    schedule_cron: str
    description: str | None = None
    next_runs: list[datetime]


class GoalStats(ResponseModel):
    total: int
    by_status: dict[str, int]
    scheduled: int
    awaiting_review: int
    cost_usd: float
    iterations: int


class GoalIterationCreate(RequestModel):
    """cortex records an attempt before it submits it: (goal, iteration) is unique, so a retry after a crash
    finds the attempt it already made instead of making a second one."""

    iteration: int = Field(ge=1, le=1_000_000)
    plan: GoalText = ""
    pipeline_task_id: UUID | None = None


class GoalIterationUpdate(UpdateRequestModel):
    clearable: ClassVar[frozenset[str]] = frozenset({"pipeline_task_id", "summary"})

    pipeline_task_id: UUID | None = None
    outcome: IterationOutcome | None = None
    cost_usd: float | None = Field(default=None, ge=0, le=100_000)
    duration_ms: int | None = Field(default=None, ge=0, le=30 * 86_400_000)
    summary: GoalText | None = None
    progress: float | None = Field(
        default=None, ge=0, le=1, description="the goal's progress after this attempt"
    )


class GoalIteration(ResponseModel):
    id: UUID
    goal_id: UUID
    iteration: int
    plan: str
    pipeline_task_id: UUID | None = None
    outcome: IterationOutcome
    cost_usd: float = 0.0
    duration_ms: int | None = None
    summary: str | None = None
    started_at: datetime
    finished_at: datetime | None = None


class ReflectionCreate(RequestModel):
    approach_fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")
    outcome: IterationOutcome
    lesson: GoalText = ""
    iteration_id: UUID | None = None


class Reflection(ResponseModel):
    id: UUID
    goal_id: UUID
    iteration_id: UUID | None = None
    approach_fingerprint: str
    outcome: IterationOutcome
    lesson: str
    created_at: datetime


class CommentCreate(RequestModel):
    body: Annotated[str, Field(min_length=1, max_length=10_000)]

    _text = field_validator("body")(_no_nul)


class Comment(ResponseModel):
    id: UUID
    goal_id: UUID
    author: str
    body: str
    created_at: datetime


class SpecSubmit(RequestModel):
    """cortex moves a goal along its maturation track; a spec is required to enter review."""

    stage: MaturationStage | None = Field(
        description="null: triage judged the goal simple, it leaves the track"
    )
    spec: GoalText | None = None


class SpecRejection(RequestModel):
    feedback: Annotated[str, Field(min_length=1, max_length=10_000)]

    _text = field_validator("feedback")(_no_nul)


class GoalTask(ResponseModel):
    """A pipeline task one of the goal's iterations submitted."""

    id: UUID
    goal: str
    status: str
    cost_usd: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class StimulusType(StrEnum):
    GOAL_CREATED = "goal.created"
    GOAL_UPDATED = "goal.updated"
    GOAL_COMMENTED = "goal.commented"
    GOAL_SPEC_APPROVED = "goal.spec_approved"
    GOAL_SPEC_REJECTED = "goal.spec_rejected"
    GOAL_TRIGGERED = "goal.triggered"
    SCHEDULE_DUE = "goal.schedule_due"
    MESSAGE_RECEIVED = "message.received"
    TASK_FINISHED = "task.finished"
    HEALTH_DEGRADED = "health.degraded"
    BUDGET_TIER_CHANGED = "budget.tier_changed"


CORTEX_STIMULI_KEY = "nova:cortex:stimuli"
"""The Redis list (cortex's DB 5) other services push stimuli onto; cortex blocks on it."""


class Stimulus(RequestModel):
    """Something cortex should notice on its next cycle."""

    type: StimulusType
    goal_id: UUID | None = None
    source: Annotated[str, Field(min_length=1, max_length=64)] = "orchestrator"
    payload: Metadata = Field(default_factory=dict)
    at: datetime
