"""Typed calls to the services cortex works through: orchestrator (goals, pipeline, journal, spend),
llm-gateway (planning) and memory-service (what cortex learnt). Each returns contract models."""

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import structlog
from pydantic import TypeAdapter

from nova_common.errors import NovaError
from nova_common.http import ServiceClient, peer_error
from nova_contracts.cortex import DailySpend, JournalEntryCreate, JournalPage
from nova_contracts.goals import (
    Comment,
    Goal,
    GoalIteration,
    GoalIterationCreate,
    GoalIterationUpdate,
    GoalTask,
    Reflection,
    ReflectionCreate,
    SpecSubmit,
)
from nova_contracts.llm import CALLER_HEADER, CORTEX_CALLER, CompleteRequest, CompleteResponse, Message
from nova_contracts.memory import MemoryCreate
from nova_contracts.orchestrator import PipelineTaskInfo, PipelineTaskSubmit

log = structlog.get_logger("cortex.clients")

_GOALS = TypeAdapter(list[Goal])
_ITERATIONS = TypeAdapter(list[GoalIteration])
_REFLECTIONS = TypeAdapter(list[Reflection])
_COMMENTS = TypeAdapter(list[Comment])
_TASKS = TypeAdapter(list[GoalTask])


def _checked(peer: str, response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise peer_error(peer, response)


class OrchestratorClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def _get(self, url: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return _checked("orchestrator", await self.client.get(url, params=query)).json()

    async def _send(self, method: str, url: str, body: Any) -> Any:
        content = body.model_dump_json(exclude_unset=True) if hasattr(body, "model_dump_json") else None
        response = await self.client.request(
            method,
            url,
            content=content,
            json=None if content is not None else body,
            headers={"Content-Type": "application/json"},
        )
        return _checked("orchestrator", response).json()

    # Budget ------------------------------------------------------------------------------------------

    async def spend_today(self) -> DailySpend:
        return DailySpend.model_validate(await self._get("/api/v1/usage/spend"))

    # Goals -------------------------------------------------------------------------------------------

    async def active_goals(self, page_size: int) -> list[Goal]:
        goals: list[Goal] = []
        while True:
            page = _GOALS.validate_python(
                await self._get("/api/v1/goals", status="active", limit=page_size, offset=len(goals))
            )
            goals.extend(page)
            if len(page) < page_size:
                return goals

    async def goal(self, goal_id: UUID) -> Goal | None:
        response = await self.client.get(f"/api/v1/goals/{goal_id}")
        if response.status_code == 404:
            return None
        return Goal.model_validate(_checked("orchestrator", response).json())

    async def update_goal(self, goal_id: UUID, **fields: Any) -> Goal:
        return Goal.model_validate(await self._send("PATCH", f"/api/v1/goals/{goal_id}", fields))

    async def due_goals(self, limit: int = 50) -> list[Goal]:
        return _GOALS.validate_python(await self._get("/api/v1/goals/due", limit=limit))

    async def fire_schedule(self, goal_id: UUID) -> Goal | None:
        """The goal once its due schedule is taken; None when it was not due (another cycle took it)."""
        response = await self.client.post(f"/api/v1/goals/{goal_id}/fire-schedule")
        if response.status_code in (404, 409):
            return None
        return Goal.model_validate(_checked("orchestrator", response).json())

    async def iterations(self, goal_id: UUID, limit: int = 5) -> list[GoalIteration]:
        return _ITERATIONS.validate_python(
            await self._get(f"/api/v1/goals/{goal_id}/iterations", limit=limit)
        )

    async def record_iteration(self, goal_id: UUID, body: GoalIterationCreate) -> GoalIteration:
        return GoalIteration.model_validate(
            await self._send("POST", f"/api/v1/goals/{goal_id}/iterations", body)
        )

    async def finish_iteration(
        self, goal_id: UUID, iteration_id: UUID, body: GoalIterationUpdate
    ) -> GoalIteration:
        url = f"/api/v1/goals/{goal_id}/iterations/{iteration_id}"
        return GoalIteration.model_validate(await self._send("PATCH", url, body))

    async def reflections(self, goal_id: UUID, limit: int = 10) -> list[Reflection]:
        return _REFLECTIONS.validate_python(
            await self._get(f"/api/v1/goals/{goal_id}/reflections", limit=limit)
        )

    async def add_reflection(self, goal_id: UUID, body: ReflectionCreate) -> Reflection:
        return Reflection.model_validate(
            await self._send("POST", f"/api/v1/goals/{goal_id}/reflections", body)
        )

    async def comments(self, goal_id: UUID, limit: int = 20) -> list[Comment]:
        return _COMMENTS.validate_python(await self._get(f"/api/v1/goals/{goal_id}/comments", limit=limit))

    async def advance(self, goal_id: UUID, body: SpecSubmit) -> Goal:
        return Goal.model_validate(await self._send("POST", f"/api/v1/goals/{goal_id}/maturation", body))

    async def goal_tasks(self, goal_id: UUID, limit: int = 50) -> list[GoalTask]:
        return _TASKS.validate_python(await self._get(f"/api/v1/goals/{goal_id}/tasks", limit=limit))

    # Pipeline ----------------------------------------------------------------------------------------

    async def submit_task(self, body: PipelineTaskSubmit) -> PipelineTaskInfo:
        return PipelineTaskInfo.model_validate(await self._send("POST", "/api/v1/pipeline/tasks", body))

    async def task(self, task_id: UUID) -> PipelineTaskInfo | None:
        response = await self.client.get(f"/api/v1/pipeline/tasks/{task_id}")
        if response.status_code == 404:
            return None
        return PipelineTaskInfo.model_validate(_checked("orchestrator", response).json())

    async def cancel_task(self, task_id: UUID) -> None:
        response = await self.client.post(f"/api/v1/pipeline/tasks/{task_id}/cancel")
        if response.status_code not in (404, 409):  # gone or already finished: nothing to cancel
            _checked("orchestrator", response)

    # Journal -----------------------------------------------------------------------------------------

    async def narrate(self, entry: JournalEntryCreate) -> None:
        await self._send("POST", "/api/v1/journal/entries", entry)

    async def journal(
        self, *, role: str | None = None, since: datetime | None = None, limit: int = 50
    ) -> JournalPage:
        params = {"role": role, "since": since.isoformat() if since else None, "limit": limit}
        return JournalPage.model_validate(await self._get("/api/v1/journal", **params))


class GatewayClient:
    def __init__(self, client: ServiceClient, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    async def complete(
        self, system: str, prompt: str, *, task_type: str, max_tokens: int = 800
    ) -> CompleteResponse:
        body = CompleteRequest(
            messages=[Message(role="system", content=system), Message(role="user", content=prompt)],
            task_type=task_type,
            temperature=0.2,
            max_tokens=max_tokens,
        )
        response = await self.client.post(
            "/complete",
            content=body.model_dump_json(exclude_none=True),
            # Marks the call as cortex's own: the gateway holds it to the budget tier cortex publishes.
            headers={"Content-Type": "application/json", CALLER_HEADER: CORTEX_CALLER},
            timeout=self.timeout,
        )
        return CompleteResponse.model_validate(_checked("llm-gateway", response).json())


class MemoryClient:
    """What cortex learnt, kept as the admin's memories; a memory-service that is down is skipped quietly."""

    def __init__(self, client: ServiceClient | None) -> None:
        self.client = client

    async def remember(self, content: str, metadata: dict[str, Any]) -> None:
        if self.client is None:
            return
        body = MemoryCreate(content=content, category="cortex", metadata=metadata, owner="admin")
        try:
            response = await self.client.post(
                "/api/v1/memories",
                content=body.model_dump_json(),
                headers={"Content-Type": "application/json"},
                timeout=10.0,
            )
            _checked("memory-service", response)
        except (NovaError, httpx.HTTPError) as exc:
            log.info("memory_write_skipped", error=str(exc)[:200])
