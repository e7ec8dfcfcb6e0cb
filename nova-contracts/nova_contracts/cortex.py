"""cortex: its state, drives, budget tier, and the journal it narrates into (kept by the orchestrator).

The journal is a conversation titled "Journal" in the dashboard's chat list: cortex writes entries there
(what it did and why, escalations), and what the person writes there is read by cortex on its next cycle.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field

from nova_contracts.base import Metadata, RequestModel, ResponseModel


def _in_utc(value: datetime) -> datetime:
    # A naive time is taken as UTC; 0001-01-01T00:00+01:00 is a valid ISO date outside Python's range in UTC.
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range once converted to UTC") from None


UtcInstant = Annotated[datetime, AfterValidator(_in_utc)]
"""An instant as a query parameter or field: naive means UTC; an instant outside the UTC range is a 422."""


class BudgetTier(StrEnum):
    """How much of today's budget is left: best (< 50 % spent), mid (50-80 %), cheap (80-100 %), none."""

    BEST = "best"
    MID = "mid"
    CHEAP = "cheap"
    NONE = "none"


BUDGET_TIER_CONFIG_KEY = "cortex.budget_tier"
"""Runtime-config key (Redis DB 1, `nova:config:cortex.budget_tier`) where cortex publishes the tier as JSON."""


class DriveName(StrEnum):
    SERVE = "serve"
    MAINTAIN = "maintain"
    IMPROVE = "improve"
    REFLECT = "reflect"
    LEARN = "learn"


class DailySpend(ResponseModel):
    """What the platform spent on models since `since` (UTC midnight)."""

    since: datetime
    spend_usd: float = Field(ge=0)
    events: int = Field(ge=0)


class BudgetStatus(ResponseModel):
    daily_budget_usd: float
    daily_spend_usd: float
    remaining_usd: float
    percent_used: float
    tier: BudgetTier
    checked_at: datetime | None = None


class DriveUrgency(ResponseModel):
    drive: DriveName
    urgency: float = Field(ge=0, le=1)
    weight: float = Field(ge=0)
    score: float = Field(ge=0)
    reason: str
    goal_id: UUID | None = None


class InFlightIteration(ResponseModel):
    """An attempt cortex submitted and has not seen finish; kept in Redis so a restart re-attaches to it."""

    goal_id: UUID
    iteration: int
    iteration_id: UUID | None = Field(default=None, description="null until the attempt is recorded")
    task_id: UUID | None = Field(default=None, description="null until its pipeline task is submitted")
    fingerprint: str
    plan: str = ""
    started_at: datetime


class CortexStatus(ResponseModel):
    status: Literal["running", "paused"]
    acting: bool = Field(description="this replica holds the cluster-wide lease and runs the cycle")
    cycle_count: int = 0
    last_cycle_at: datetime | None = None
    current_drive: DriveName | None = None
    last_action: str | None = None
    budget_tier: BudgetTier | None = None
    in_flight: list[InFlightIteration] = Field(default_factory=list)


class TriggerAccepted(ResponseModel):
    goal_id: UUID
    detail: str


class JournalEntryKind(StrEnum):
    NARRATION = "narration"
    ESCALATION = "escalation"
    REFLECTION = "reflection"
    MATURATION = "maturation"
    BUDGET = "budget"
    MESSAGE = "message"  # what the person wrote


JournalText = Annotated[str, Field(min_length=1, max_length=20_000)]


class JournalEntryCreate(RequestModel):
    """cortex narrates: what it did, why, and what it needs from the person."""

    kind: JournalEntryKind = JournalEntryKind.NARRATION
    content: JournalText
    goal_id: UUID | None = None
    metadata: Metadata = Field(default_factory=dict)


class JournalMessageCreate(RequestModel):
    """The person writes in the journal; cortex reads it on its next cycle (no agent turn runs)."""

    content: JournalText


class JournalEntry(ResponseModel):
    id: UUID
    role: Literal["user", "assistant"]
    kind: JournalEntryKind
    content: str
    goal_id: UUID | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class JournalPage(ResponseModel):
    conversation_id: UUID
    items: list[JournalEntry]
