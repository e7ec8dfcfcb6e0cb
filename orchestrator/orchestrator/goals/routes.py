"""Goal routes: a key sees and changes its own goals, the admin and cortex (service token) all of them.

Recording iterations, reflections and maturation steps is cortex's job (service token or admin).
"""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status

from nova_common.auth import ServiceAuth
from nova_common.errors import Conflict
from nova_contracts.goals import (
    Comment,
    CommentCreate,
    Goal,
    GoalCreate,
    GoalIteration,
    GoalIterationCreate,
    GoalIterationUpdate,
    GoalStats,
    GoalStatus,
    GoalTask,
    GoalUpdate,
    Reflection,
    ReflectionCreate,
    SchedulePreview,
    SpecRejection,
    SpecSubmit,
)
from orchestrator.deps import CallerAuth, CallerTenant, GoalServiceDep, Page
from orchestrator.goals.service import preview_schedule

router = APIRouter(prefix="/api/v1/goals", tags=["goals"])


@router.post("", response_model=Goal, status_code=status.HTTP_201_CREATED)
async def create_goal(body: GoalCreate, caller: CallerAuth, goals: GoalServiceDep) -> Goal:
    """Create a goal for cortex to pursue; with `schedule_cron` it runs on that schedule."""
    return await goals.create(body, caller)


@router.get("", response_model=list[Goal])
async def list_goals(
    tenant: CallerTenant,
    goals: GoalServiceDep,
    page: Page,
    goal_status: Annotated[GoalStatus | None, Query(alias="status")] = None,
) -> list[Goal]:
    """The caller's goals (the admin's: every goal), most important first."""
    return await goals.page(tenant, status=goal_status, limit=page.limit, offset=page.offset)


@router.get("/stats", response_model=GoalStats)
async def get_goal_stats(tenant: CallerTenant, goals: GoalServiceDep) -> GoalStats:
    """Counts by status, schedules, specs awaiting review, total cost and iterations."""
    return await goals.stats(tenant)


@router.get("/schedule-preview", response_model=SchedulePreview)
async def preview_goal_schedule(
    _: CallerAuth, cron: Annotated[str, Query(min_length=1, max_length=100, description="a cron expression")]
) -> SchedulePreview:
    """The schedule in words and its next three runs (UTC); 400 when it is not a cron expression."""
    return preview_schedule(cron, datetime.now(UTC))


@router.get("/due", response_model=list[Goal])
async def list_due_goals(
    _: ServiceAuth, goals: GoalServiceDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[Goal]:
    """For cortex: active goals whose schedule is due now, the longest overdue first."""
    return await goals.due(datetime.now(UTC), limit)


@router.get("/{goal_id}", response_model=Goal)
async def get_goal(goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep) -> Goal:
    """One goal with its plan, progress, cost and schedule."""
    return await goals.get(goal_id, tenant)


@router.patch("/{goal_id}", response_model=Goal)
async def update_goal(goal_id: UUID, body: GoalUpdate, tenant: CallerTenant, goals: GoalServiceDep) -> Goal:
    """Change a goal; only the fields sent change (`status: paused` pauses it)."""
    return await goals.update(goal_id, body, tenant)


@router.delete("/{goal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_goal(goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep) -> Response:
    """Delete a goal with its iterations, reflections and comments (its pipeline tasks are kept)."""
    await goals.delete(goal_id, tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{goal_id}/trigger", response_model=Goal, status_code=status.HTTP_202_ACCEPTED)
async def trigger_goal(goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep) -> Goal:
    """Ask cortex to work on this goal on its next cycle."""
    return await goals.trigger(goal_id, tenant)


@router.get("/{goal_id}/tasks", response_model=list[GoalTask])
async def list_goal_tasks(
    goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep, page: Page
) -> list[GoalTask]:
    """The pipeline tasks this goal's iterations submitted, newest first."""
    return await goals.tasks(goal_id, tenant, page.limit, page.offset)


@router.get("/{goal_id}/iterations", response_model=list[GoalIteration])
async def list_goal_iterations(
    goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep, page: Page
) -> list[GoalIteration]:
    """Each attempt: plan, pipeline task, outcome, cost and duration; newest first."""
    return await goals.iterations(goal_id, tenant, page.limit, page.offset)


@router.post("/{goal_id}/iterations", response_model=GoalIteration)
async def record_goal_iteration(
    goal_id: UUID, body: GoalIterationCreate, _: ServiceAuth, goals: GoalServiceDep, response: Response
) -> GoalIteration:
    """For cortex: record an attempt (201), or get the one already recorded under that number (200)."""
    iteration, created = await goals.record_iteration(goal_id, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return iteration


@router.patch("/{goal_id}/iterations/{iteration_id}", response_model=GoalIteration)
async def finish_goal_iteration(
    goal_id: UUID, iteration_id: UUID, body: GoalIterationUpdate, _: ServiceAuth, goals: GoalServiceDep
) -> GoalIteration:
    """For cortex: an attempt's outcome, cost and duration (its cost is added to the goal's once)."""
    return await goals.finish_iteration(goal_id, iteration_id, body)


@router.post("/{goal_id}/fire-schedule", response_model=Goal)
async def fire_goal_schedule(goal_id: UUID, _: ServiceAuth, goals: GoalServiceDep) -> Goal:
    """For cortex: take the due schedule once (409 when it is not due, e.g. another cycle took it)."""
    fired = await goals.fire_schedule(goal_id, datetime.now(UTC))
    if fired is None:
        raise Conflict(f"goal {goal_id}'s schedule is not due")
    return fired


@router.get("/{goal_id}/reflections", response_model=list[Reflection])
async def list_goal_reflections(
    goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep, page: Page
) -> list[Reflection]:
    """What cortex learnt from each approach, newest first."""
    return await goals.reflections(goal_id, tenant, page.limit, page.offset)


@router.post("/{goal_id}/reflections", response_model=Reflection, status_code=status.HTTP_201_CREATED)
async def add_goal_reflection(
    goal_id: UUID, body: ReflectionCreate, _: ServiceAuth, goals: GoalServiceDep
) -> Reflection:
    """For cortex: a lesson from one approach (identified by its fingerprint)."""
    return await goals.add_reflection(goal_id, body)


@router.get("/{goal_id}/comments", response_model=list[Comment])
async def list_goal_comments(
    goal_id: UUID, tenant: CallerTenant, goals: GoalServiceDep, page: Page
) -> list[Comment]:
    """The conversation about a goal, oldest first."""
    return await goals.comments(goal_id, tenant, page.limit, page.offset)


@router.post("/{goal_id}/comments", response_model=Comment, status_code=status.HTTP_201_CREATED)
async def add_goal_comment(
    goal_id: UUID, body: CommentCreate, caller: CallerAuth, tenant: CallerTenant, goals: GoalServiceDep
) -> Comment:
    """Say something about a goal; cortex reads it on its next cycle."""
    return await goals.add_comment(goal_id, body, tenant, caller)


@router.post("/{goal_id}/maturation", response_model=Goal)
async def advance_goal_maturation(
    goal_id: UUID, body: SpecSubmit, _: ServiceAuth, goals: GoalServiceDep
) -> Goal:
    """For cortex: move a complex goal along its track (a spec is needed to enter review)."""
    return await goals.advance(goal_id, body)


@router.post("/{goal_id}/approve-spec", response_model=Goal)
async def approve_goal_spec(
    goal_id: UUID, caller: CallerAuth, tenant: CallerTenant, goals: GoalServiceDep
) -> Goal:
    """Approve the spec under review: cortex starts building."""
    return await goals.review_spec(goal_id, tenant, caller, approve=True, feedback=None)


@router.post("/{goal_id}/reject-spec", response_model=Goal)
async def reject_goal_spec(
    goal_id: UUID, body: SpecRejection, caller: CallerAuth, tenant: CallerTenant, goals: GoalServiceDep
) -> Goal:
    """Reject the spec with feedback: cortex writes a new one."""
    return await goals.review_spec(goal_id, tenant, caller, approve=False, feedback=body.feedback)
