"""cortex's routes: its state, drives, budget and journal; pause, resume and "run now" (admin or service)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from cortex.budget import budget_status
from cortex.deps import CortexDep
from nova_common.auth import ServiceAuth
from nova_common.errors import Conflict, NotFound
from nova_contracts.cortex import (
    BudgetStatus,
    CortexStatus,
    DriveName,
    DriveUrgency,
    JournalPage,
    TriggerAccepted,
)
from nova_contracts.goals import GoalStatus, Reflection

router = APIRouter(prefix="/api/v1/cortex", tags=["cortex"])


@router.get("/status", response_model=CortexStatus)
async def get_status(_: ServiceAuth, cortex: CortexDep) -> CortexStatus:
    """Running or paused, cycle count, current drive, budget tier and the attempts in flight."""
    return await cortex.status()


@router.post("/pause", response_model=CortexStatus)
async def pause_cortex(_: ServiceAuth, cortex: CortexDep) -> CortexStatus:
    """Stop dispatching work from the next cycle on (attempts in flight still finish and are recorded)."""
    await cortex.state.set_status("paused")
    return await cortex.status()


@router.post("/resume", response_model=CortexStatus)
async def resume_cortex(_: ServiceAuth, cortex: CortexDep) -> CortexStatus:
    """Dispatch work again."""
    await cortex.state.set_status("running")
    await cortex.wake()
    return await cortex.status()


@router.post("/trigger/{goal_id}", response_model=TriggerAccepted, status_code=status.HTTP_202_ACCEPTED)
async def trigger_goal(goal_id: UUID, _: ServiceAuth, cortex: CortexDep) -> TriggerAccepted:
    """Work on this goal on the next cycle, whatever the drives say."""
    goal = await cortex.orchestrator.goal(goal_id)
    if goal is None:
        raise NotFound(f"goal {goal_id} not found")
    if goal.status is not GoalStatus.ACTIVE:
        raise Conflict(f"goal {goal_id} is {goal.status.value}; resume it before running it")
    await cortex.trigger(goal_id)
    return TriggerAccepted(goal_id=goal_id, detail="cortex works on it on its next cycle")


@router.get("/drives", response_model=list[DriveUrgency])
async def get_drives(_: ServiceAuth, cortex: CortexDep) -> list[DriveUrgency]:
    """Each drive's urgency as the last cycle evaluated it, highest score first."""
    drives = await cortex.state.drives()
    return drives or [
        DriveUrgency(drive=d, urgency=0, weight=0, score=0, reason="no cycle has run yet") for d in DriveName
    ]


@router.get("/budget", response_model=BudgetStatus)
async def get_budget(_: ServiceAuth, cortex: CortexDep) -> BudgetStatus:
    """Today's spend (since UTC midnight) against the daily budget, and the tier it gives."""
    spend = await cortex.orchestrator.spend_today()
    return budget_status(spend, cortex.settings.cortex_daily_budget_usd)


@router.get("/journal", response_model=JournalPage)
async def get_journal(
    _: ServiceAuth, cortex: CortexDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> JournalPage:
    """The journal, newest first: what cortex did and why, and what the person wrote."""
    return await cortex.orchestrator.journal(limit=limit)


@router.get("/reflections/{goal_id}", response_model=list[Reflection])
async def get_reflections(
    goal_id: UUID, _: ServiceAuth, cortex: CortexDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[Reflection]:
    """What cortex learnt from each approach it took on the goal, newest first."""
    if await cortex.orchestrator.goal(goal_id) is None:
        raise NotFound(f"goal {goal_id} not found")
    return await cortex.orchestrator.reflections(goal_id, limit=limit)
