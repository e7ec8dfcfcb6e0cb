"""`/api/v1/pipeline`: submit and follow one's own tasks (API key), human review, dead letter (admin), queue
statistics, live events."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from nova_common.auth import require_admin
from nova_common.errors import BadRequest, Forbidden
from nova_common.sse import EventStream, json_event_stream
from nova_contracts.orchestrator import (
    ClarifyRequest,
    DeadLetterEntry,
    HumanReviewDecision,
    PipelineArtifact,
    PipelineFinding,
    PipelineLatency,
    PipelineReview,
    PipelineStats,
    PipelineStatusFilter,
    PipelineTaskBatchAccepted,
    PipelineTaskBatchSubmit,
    PipelineTaskInfo,
    PipelineTaskPage,
    PipelineTasksDeleted,
    PipelineTaskState,
    PipelineTaskSubmit,
    QueueStats,
    StatsWindowHours,
    TimelineEntry,
)
from orchestrator.deps import MAX_PAGE_SIZE, CallerAuth, CallerTenant, ServicesDep
from orchestrator.pipeline.pods.routes import router as pods_router
from orchestrator.pipeline.service import PipelineService

# A task's timeline and records are read whole by the dashboard: a page is the maximum unless asked otherwise.
TaskItemsLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, Query(ge=0)]

router = APIRouter()
pipeline = APIRouter(prefix="/api/v1/pipeline", tags=["pipeline"])


async def get_pipeline(request: Request) -> PipelineService:  # async: no thread hop per request
    service: PipelineService = request.app.state.pipeline.service
    return service


Pipeline = Annotated[PipelineService, Depends(get_pipeline)]


@pipeline.post("/tasks", response_model=PipelineTaskInfo, status_code=status.HTTP_202_ACCEPTED)
async def submit_task(body: PipelineTaskSubmit, caller: CallerAuth, service: Pipeline) -> PipelineTaskInfo:
    """Persist a goal and queue it; it is routed to a pod unless `pod_id` names one."""
    return await service.submit(body, caller)


@pipeline.post("/tasks/batch", response_model=PipelineTaskBatchAccepted, status_code=status.HTTP_202_ACCEPTED)
async def submit_task_batch(
    body: PipelineTaskBatchSubmit, caller: CallerAuth, service: Pipeline, services: ServicesDep
) -> PipelineTaskBatchAccepted:
    """Persist and queue up to 500 goals at once, all or none; the ids come back in the order sent. Each task
    counts as one request against an API key's rate limit."""
    if caller.key is not None and len(body.tasks) > 1:
        limit = caller.key.rate_limit_rpm
        if 0 < limit < len(body.tasks):
            raise BadRequest(
                f"a batch of {len(body.tasks)} tasks counts as {len(body.tasks)} requests, more than this API "
                f"key's {limit} requests/minute: send at most {limit} at once"
            )
        await services.limiter.admit(caller.key, cost=len(body.tasks) - 1)  # the auth counted the first
    return await service.submit_batch(body, caller)


@pipeline.get("/tasks", response_model=PipelineTaskPage)
async def list_tasks(
    tenant: CallerTenant,
    service: Pipeline,
    status_: Annotated[
        PipelineStatusFilter | None,
        Query(alias="status", description="a state, or `running` for any running one"),
    ] = None,
    pod_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PipelineTaskPage:
    """The caller's tasks (the admin's: all), newest first, filtered by status, pod and creation time."""
    return await service.search(
        status=status_, pod_id=pod_id, since=since, until=until, limit=limit, offset=offset, tenant=tenant
    )


@pipeline.get("/tasks/{task_id}", response_model=PipelineTaskInfo)
async def get_task(task_id: uuid.UUID, tenant: CallerTenant, service: Pipeline) -> PipelineTaskInfo:
    """One task: state, current stage, output or error."""
    return await service.get(task_id, tenant)


@pipeline.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task_id: uuid.UUID, tenant: CallerTenant, service: Pipeline) -> Response:
    """Delete a finished task with its timeline and records; an active one is a 400 (cancel it first)."""
    await service.delete(task_id, tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@pipeline.delete("/tasks", response_model=PipelineTasksDeleted)
async def delete_tasks(
    tenant: CallerTenant,
    service: Pipeline,
    status_: Annotated[PipelineTaskState, Query(alias="status", description="a finished status")],
) -> PipelineTasksDeleted:
    """Delete every one of the caller's tasks in a finished status (complete, failed, cancelled)."""
    return await service.delete_by_status(status_, tenant)


@pipeline.get("/tasks/{task_id}/timeline", response_model=list[TimelineEntry])
async def get_task_timeline(
    task_id: uuid.UUID,
    tenant: CallerTenant,
    service: Pipeline,
    limit: TaskItemsLimit = MAX_PAGE_SIZE,
    offset: Offset = 0,
) -> list[TimelineEntry]:
    """Every state transition and stage note of a task, in order."""
    return await service.timeline(task_id, tenant, limit=limit, offset=offset)


@pipeline.get("/tasks/{task_id}/findings", response_model=list[PipelineFinding])
async def list_task_findings(
    task_id: uuid.UUID,
    tenant: CallerTenant,
    service: Pipeline,
    limit: TaskItemsLimit = MAX_PAGE_SIZE,
    offset: Offset = 0,
) -> list[PipelineFinding]:
    """The guardrail's findings."""
    return await service.findings(task_id, tenant, limit=limit, offset=offset)


@pipeline.get("/tasks/{task_id}/reviews", response_model=list[PipelineReview])
async def list_task_reviews(
    task_id: uuid.UUID,
    tenant: CallerTenant,
    service: Pipeline,
    limit: TaskItemsLimit = MAX_PAGE_SIZE,
    offset: Offset = 0,
) -> list[PipelineReview]:
    """The code review verdicts, one per refactor iteration."""
    return await service.reviews(task_id, tenant, limit=limit, offset=offset)


@pipeline.get("/tasks/{task_id}/artifacts", response_model=list[PipelineArtifact])
async def list_task_artifacts(
    task_id: uuid.UUID,
    tenant: CallerTenant,
    service: Pipeline,
    limit: TaskItemsLimit = MAX_PAGE_SIZE,
    offset: Offset = 0,
) -> list[PipelineArtifact]:
    """Outputs, ADRs and post-pipeline documents."""
    return await service.artifacts(task_id, tenant, limit=limit, offset=offset)


@pipeline.post("/tasks/{task_id}/cancel", response_model=PipelineTaskInfo)
async def cancel_task(task_id: uuid.UUID, tenant: CallerTenant, service: Pipeline) -> PipelineTaskInfo:
    """Cancel a task in any non-terminal state; a running stage is abandoned."""
    return await service.cancel(task_id, tenant)


@pipeline.post("/tasks/{task_id}/clarify", response_model=PipelineTaskInfo)
async def clarify_task(
    task_id: uuid.UUID, body: ClarifyRequest, tenant: CallerTenant, service: Pipeline
) -> PipelineTaskInfo:
    """Answer the context agent's questions; the task resumes with them."""
    return await service.clarify(task_id, body, tenant)


@pipeline.post("/tasks/{task_id}/review", response_model=PipelineTaskInfo)
async def review_task(
    task_id: uuid.UUID, body: HumanReviewDecision, caller: CallerAuth, service: Pipeline
) -> PipelineTaskInfo:
    """Approve (the task completes) or reject (it fails) a task pending human review (admin only: approval
    releases what the guardrail withheld)."""
    if caller.kind != "admin":
        raise Forbidden("only the admin decides a human review; send X-Admin-Secret")
    return await service.review(task_id, body)


@pipeline.get("/queue-stats", response_model=QueueStats)
async def get_queue_stats(_: CallerAuth, service: Pipeline) -> QueueStats:
    """Queue depth, running and queued tasks, dead-letter count, live workers, oldest queued age."""
    return await service.stats()


@pipeline.get("/stats", response_model=PipelineStats)
async def get_pipeline_stats(
    tenant: CallerTenant, service: Pipeline, window_hours: Annotated[StatsWindowHours, Query()] = 24
) -> PipelineStats:
    """The caller's tasks of the last `window_hours`: counts by status, success rate, cost, duration."""
    return await service.window_stats(window_hours, tenant)


@pipeline.get("/stats/latency", response_model=PipelineLatency)
async def get_pipeline_latency(
    tenant: CallerTenant, service: Pipeline, window_hours: Annotated[StatsWindowHours, Query()] = 24
) -> PipelineLatency:
    """Per-stage and end-to-end p50/p95 durations of the caller's tasks over the last `window_hours`."""
    return await service.latency(window_hours, tenant)


@pipeline.get("/notifications/stream", response_class=EventStream)
async def stream_pipeline_notifications(
    request: Request, tenant: CallerTenant, service: Pipeline
) -> EventStream:
    """The caller's tasks as they complete, fail, need clarification or need review (SSE)."""
    return json_event_stream(request, service.notifications(tenant))


@pipeline.get("/dead-letter", response_model=list[DeadLetterEntry], dependencies=[Depends(require_admin)])
async def list_dead_letter(
    service: Pipeline,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeadLetterEntry]:
    """Tasks that exhausted their retries, with the reason (admin)."""
    return await service.dead_letters(limit=limit, offset=offset)


@pipeline.post(
    "/dead-letter/{task_id}/requeue", response_model=PipelineTaskInfo, dependencies=[Depends(require_admin)]
)
async def requeue_dead_letter(task_id: uuid.UUID, service: Pipeline) -> PipelineTaskInfo:
    """Queue a dead-lettered task again with fresh retries; it resumes from its checkpoint (admin)."""
    return await service.requeue_dead_letter(task_id)


@pipeline.get("/events", response_class=EventStream)
async def stream_pipeline_events(
    request: Request, tenant: CallerTenant, service: Pipeline, task_id: uuid.UUID | None = None
) -> EventStream:
    """Live progress events (SSE) of one task or of every task the caller sees."""
    return json_event_stream(request, await service.events(task_id, tenant))


router.include_router(pipeline)
router.include_router(pods_router)
