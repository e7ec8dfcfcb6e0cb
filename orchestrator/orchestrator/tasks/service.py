"""Interactive tasks: one agent turn, answered whole (`TaskResult`) or streamed, and kept for lookup."""

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime
from uuid import UUID, uuid4

from nova_common.auth import Principal
from nova_common.errors import NotFound, NovaError
from nova_contracts.chat import ChatStreamEvent
from nova_contracts.llm import CallMetadata
from nova_contracts.orchestrator import SandboxTier, SubmitTaskRequest, TaskResult, TaskStatus
from orchestrator.agents.service import AgentService
from orchestrator.agents.turn import AgentRunner, Done, TurnInput, TurnOutcome, as_stream_event
from orchestrator.keys.tenant import Tenant
from orchestrator.tasks.repository import TaskRepository


def caller_metadata(principal: Principal) -> CallMetadata:
    return {"api_key_id": principal.key.id} if principal.key is not None else {}


class TaskService:
    def __init__(self, repository: TaskRepository, agents: AgentService, runner: AgentRunner) -> None:
        self.repository = repository
        self.agents = agents
        self.runner = runner

    async def get(self, task_id: UUID, *, tenant: Tenant) -> TaskResult:
        result = await self.repository.get(task_id)
        # Another tenant's task is "not found": its existence is not revealed.
        if result is None or not tenant.may_see(result.owner):
            raise NotFound(f"task {task_id} not found (results are kept for a day)")
        return result

    async def _start(
        self, request: SubmitTaskRequest, principal: Principal, *, stream: bool
    ) -> tuple[TaskResult, TurnInput]:
        tenant = Tenant.of(principal)
        agent = await self.agents.get(request.agent_id, tenant=tenant)
        running = TaskResult(
            task_id=uuid4(),
            agent_id=agent.id,
            status=TaskStatus.RUNNING,
            started_at=datetime.now(UTC),
            owner=tenant.owner,
        )
        await self.repository.save(running)
        sandbox = request.metadata.get("sandbox")
        turn = TurnInput(
            agent=agent,
            messages=list(request.messages),
            tenant=tenant,
            model=request.metadata.get("model") if isinstance(request.metadata.get("model"), str) else None,
            session_id=request.session_id,
            metadata={**caller_metadata(principal), "task_id": str(running.task_id)},
            sandbox=SandboxTier(sandbox) if sandbox in set(SandboxTier) else None,
            stream=stream,
        )
        return running, turn

    async def _finish(self, running: TaskResult, outcome: TurnOutcome) -> TaskResult:
        result = running.model_copy(
            update={
                "status": TaskStatus.COMPLETED,
                "response": outcome.response,
                "tool_calls": outcome.tool_calls,
                "steps": outcome.steps,
                "model": outcome.model,
                "input_tokens": outcome.input_tokens,
                "output_tokens": outcome.output_tokens,
                "completed_at": datetime.now(UTC),
            }
        )
        await self.repository.save(result)
        return result

    async def _fail(self, running: TaskResult, error: str) -> None:
        failed = running.model_copy(
            update={"status": TaskStatus.FAILED, "error": error, "completed_at": datetime.now(UTC)}
        )
        await self.repository.save(failed)

    async def run(self, request: SubmitTaskRequest, principal: Principal) -> TaskResult:
        running, turn = await self._start(request, principal, stream=False)
        try:
            outcome = await self.runner.complete(turn)
        except NovaError as exc:
            await self._fail(running, exc.detail)
            raise
        return await self._finish(running, outcome)

    async def stream(
        self, request: SubmitTaskRequest, principal: Principal
    ) -> AsyncIterator[ChatStreamEvent]:
        """Validation errors (unknown agent) raise before the stream starts; later failures are in-band."""
        running, turn = await self._start(request, principal, stream=True)

        async def events() -> AsyncIterator[ChatStreamEvent]:
            yield ChatStreamEvent(meta={"task_id": str(running.task_id), "agent_id": str(running.agent_id)})
            try:
                # Closed explicitly, so the turn's own cleanup runs even when our caller stops early.
                async with aclosing(self.runner.run(turn)) as turn_events:
                    async for event in turn_events:
                        if isinstance(event, Done):
                            result = await self._finish(running, event.outcome)
                            yield ChatStreamEvent(meta={"task": result.model_dump(mode="json")})
                        elif (rendered := as_stream_event(event)) is not None:
                            yield rendered
            except NovaError as exc:
                await self._fail(running, exc.detail)
                yield ChatStreamEvent(error=exc.detail)

        return events()
