"""Interactive tasks: one agent turn, whole or streamed (API key)."""

from uuid import UUID

from fastapi import APIRouter, Request

from nova_common.sse import EventStream, json_event_stream
from nova_contracts.orchestrator import SubmitTaskRequest, TaskResult
from orchestrator.deps import CallerAuth, CallerTenant, TaskServiceDep

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


@router.post("", response_model=TaskResult)
async def submit_task(body: SubmitTaskRequest, principal: CallerAuth, tasks: TaskServiceDep) -> TaskResult:
    """Run one agent turn and return its answer, tool calls and token counts; 503 names a service that is down."""
    return await tasks.run(body, principal)


@router.post("/stream", response_class=EventStream)
async def stream_task(
    body: SubmitTaskRequest, request: Request, principal: CallerAuth, tasks: TaskServiceDep
) -> EventStream:
    """Run one agent turn as SSE: meta, status, delta and tool events, `{"error": …}` on failure, then [DONE]."""
    return json_event_stream(request, await tasks.stream(body, principal))


@router.get("/{task_id}", response_model=TaskResult)
async def get_task(task_id: UUID, tenant: CallerTenant, tasks: TaskServiceDep) -> TaskResult:
    """One of the caller's tasks (the admin: any) with its result (running, completed or failed), kept for a day."""
    return await tasks.get(task_id, tenant=tenant)
