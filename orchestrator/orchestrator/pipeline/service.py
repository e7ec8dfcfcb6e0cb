"""Pipeline rules for the API: submit (persist, then push), cancel in any state, clarify, human review.

Keys are tenants: a caller sees and acts on the tasks it submitted (the admin on all of them), and another
tenant's task is "not found". Human review releases what the guardrail withheld, so only the admin decides it.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import structlog

from nova_common.auth import Principal
from nova_common.errors import BadRequest, Conflict, NotFound
from nova_contracts.orchestrator import (
    NOTIFICATION_OF_STATE,
    RUNNING_FILTER,
    ClarifyRequest,
    DeadLetterEntry,
    HumanReviewDecision,
    PipelineArtifact,
    PipelineFinding,
    PipelineLatency,
    PipelineNotification,
    PipelineProgressEvent,
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
    StageLatency,
    TimelineEntry,
)
from orchestrator.keys.tenant import Tenant
from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.executor import claim_target
from orchestrator.pipeline.pods.service import PodService
from orchestrator.pipeline.queue import CANCEL_CHANNEL, TaskQueue
from orchestrator.pipeline.repository import Hop, NewTask, PipelineRepository
from orchestrator.pipeline.settings import PipelineSettings
from orchestrator.pipeline.state import RUNNING_STATES, is_terminal
from orchestrator.pipeline.submissions import SubmissionCommitter

S = PipelineTaskState
T = TypeVar("T")
log = structlog.get_logger("orchestrator.pipeline.service")
# How many task ids a caller's event stream remembers as its own or not before it looks them up again.
VISIBILITY_CACHE = 10_000


def entry_of(pod: dict[str, Any], tags: list[str]) -> tuple[S, str]:
    """The state and stage a new task of `pod` starts in once claimed."""
    stage, state = claim_target({"pod": pod, "tags": tags, "checkpoint": {}})
    return state, stage


def _item(index: int, itemised: bool) -> str:
    """How an error names the item of a batch it is about."""
    return f"tasks[{index}]: " if itemised else ""


def _key_of(detail: str | None) -> str:
    """The value in a foreign-key violation's detail (`Key (goal_id)=(…) is not present…`)."""
    if detail and "=(" in detail:
        return detail.split("=(", 1)[1].split(")", 1)[0]
    return "of this submission"


def task_info(task: dict[str, Any]) -> PipelineTaskInfo:
    checkpoint = task["checkpoint"]
    agents = sorted(task["pod"].get("agents", []), key=lambda a: (a.get("position", 0), a["name"]))
    return PipelineTaskInfo.model_validate(
        {
            **task,
            "pod_name": task["pod"].get("name"),
            "completed_stages": [a["name"] for a in agents if checkpoint.get(a["name"]) is not None],
            "attempts": task["attempts"],
        }
    )


class PipelineService:
    def __init__(
        self,
        repository: PipelineRepository,
        queue: TaskQueue,
        pods: PodService,
        publisher: ProgressPublisher,
        settings: PipelineSettings,
    ) -> None:
        self.repository = repository
        self.queue = queue
        self.pods = pods
        self.publisher = publisher
        self.settings = settings
        self.committer = SubmissionCommitter(repository, self._announce)

    async def submit(self, body: PipelineTaskSubmit, caller: Principal) -> PipelineTaskInfo:
        """Queue a goal for `caller` (a service submits for the platform, as the admin's)."""

        async def store(tasks: list[NewTask]) -> dict[str, Any]:
            # Single submissions arriving together share one statement, commit and push.
            return await self.committer.insert(tasks[0])

        return task_info(await self._submit_all([body], caller, store, itemised=False))

    async def submit_batch(
        self, body: PipelineTaskBatchSubmit, caller: Principal
    ) -> PipelineTaskBatchAccepted:
        """Queue several goals for `caller` in one transaction and one push: all of them, or none with the
        first item that cannot be queued named (`tasks[i]`)."""

        async def store(tasks: list[NewTask]) -> list[uuid.UUID]:
            return await self.repository.insert_task_ids(tasks, on_committed=self._announce)

        return PipelineTaskBatchAccepted(ids=await self._submit_all(body.tasks, caller, store, itemised=True))

    async def _submit_all(
        self,
        items: Sequence[PipelineTaskSubmit],
        caller: Principal,
        store: Callable[[list[NewTask]], Awaitable[T]],
        *,
        itemised: bool,
    ) -> T:
        """Check `items` (goals the caller may file under, pods), then persist and queue them with `store`."""
        tenant = Tenant.of(caller)
        goal_ids = {item.goal_id for item in items if item.goal_id is not None}
        owners = await self.repository.goal_owners(list(goal_ids)) if goal_ids else {}
        for i, item in enumerate(items):
            owner = owners.get(item.goal_id) if item.goal_id is not None else None
            # Another tenant's goal is "not found", as everywhere: a key cannot file work under it.
            if item.goal_id is not None and (
                owner is None or not tenant.may_see(Tenant.from_columns(*owner))
            ):
                raise NotFound(_item(i, itemised) + f"goal {item.goal_id} not found")
        try:
            return await store(await self._new_tasks(items, tenant, itemised))
        except asyncpg.ForeignKeyViolationError as exc:
            if "goal_id" in (exc.constraint_name or ""):  # a goal was deleted a moment ago
                raise NotFound(f"goal {_key_of(exc.detail)} not found") from exc
            # A pod was deleted through another orchestrator a moment ago and our cache still had it.
            self.pods.forget_cached()
            return await store(await self._new_tasks(items, tenant, itemised))

    async def _new_tasks(
        self, items: Sequence[PipelineTaskSubmit], tenant: Tenant, itemised: bool
    ) -> list[NewTask]:
        new: list[NewTask] = []
        # A batch's items mostly go to the same pod: its snapshot and entry stage are worked out once.
        snapshots: dict[uuid.UUID, dict[str, Any]] = {}
        entries: dict[tuple[uuid.UUID, tuple[str, ...]], tuple[S, str]] = {}
        for i, item in enumerate(items):
            try:
                pod = await self.pods.choose(item.goal, item.pod_id)
            except (NotFound, Conflict) as exc:
                if not itemised:
                    raise
                raise type(exc)(_item(i, itemised) + exc.detail) from exc
            snapshot = snapshots.get(pod["id"])
            if snapshot is None:
                snapshot = snapshots[pod["id"]] = {
                    k: (str(v) if isinstance(v, uuid.UUID) else v)
                    for k, v in pod.items()
                    if k not in ("created_at", "updated_at")
                }
            entry_key = (pod["id"], tuple(item.tags))
            entry = entries.get(entry_key)
            if entry is None:
                entry = entries[entry_key] = entry_of(snapshot, item.tags)
            new.append(
                NewTask(
                    goal=item.goal,
                    pod_id=pod["id"],
                    pod=snapshot,
                    tags=item.tags,
                    metadata=item.metadata,
                    max_retries=self.settings.max_retries if item.max_retries is None else item.max_retries,
                    owner_kind=tenant.kind,
                    api_key_id=tenant.api_key_id,
                    entry=entry,
                    goal_id=item.goal_id,
                )
            )
        return new

    async def _announce(self, ids: list[uuid.UUID]) -> None:
        """Push the committed tasks' ids (one LPUSH) and say they are queued; both after the commit."""
        pushed, _ = await asyncio.gather(
            self.queue.push(*ids),
            self.publisher.publish_many([(task_id, S.SUBMITTED, [Hop(S.QUEUED)]) for task_id in ids]),
            return_exceptions=True,
        )
        if isinstance(pushed, BaseException):
            # The tasks are committed, so the caller gets its 202: the reaper pushes a task `queued` in
            # Postgres but missing from Redis again (requeue_after_seconds), as after a crash right here.
            log.warning("pipeline_ids_not_pushed", tasks=len(ids), error=type(pushed).__name__)

    async def _task(self, task_id: uuid.UUID, tenant: Tenant) -> dict[str, Any]:
        task = await self.repository.get(task_id)
        # Another tenant's task is "not found": its existence is not revealed.
        if task is None or not tenant.may_see(Tenant.from_columns(task["owner_kind"], task["api_key_id"])):
            raise NotFound(f"pipeline task {task_id} not found")
        return task

    async def visible(self, task_id: uuid.UUID, tenant: Tenant) -> bool:
        try:
            await self._task(task_id, tenant)
        except NotFound:
            return False
        return True

    async def get(self, task_id: uuid.UUID, tenant: Tenant) -> PipelineTaskInfo:
        return task_info(await self._task(task_id, tenant))

    async def search(
        self, *, status: PipelineStatusFilter | None, pod_id: uuid.UUID | None, since: datetime | None, until: datetime | None,
        limit: int, offset: int, tenant: Tenant,
    ) -> PipelineTaskPage:  # fmt: skip
        statuses = sorted(RUNNING_STATES) if status == RUNNING_FILTER else [S(status)] if status else None
        rows, total = await self.repository.search(
            statuses=statuses, pod_id=pod_id, since=since, until=until, limit=limit, offset=offset,
            owner=tenant.scope(),
        )  # fmt: skip
        return PipelineTaskPage(items=[task_info(r) for r in rows], total=total, limit=limit, offset=offset)

    async def cancel(self, task_id: uuid.UUID, tenant: Tenant) -> PipelineTaskInfo:
        # The state can move under us (a worker finishing a stage); retry the compare-and-set on the new state.
        for _ in range(20):
            task = await self._task(task_id, tenant)
            current = S(task["status"])
            if is_terminal(current):
                raise Conflict(f"task {task_id} is already {current.value}")
            moved = await self.repository.transition(
                task_id, current, S.CANCELLED, detail="cancelled by the user", worker_id="api"
            )
            if moved is not None:
                # Workers abandon the running stage on this signal; a missed signal still loses the next
                # fenced write, so the stage's result is never saved.
                await self.queue.redis.publish(CANCEL_CHANNEL, str(task_id))
                await self.publisher.publish(task_id, S.CANCELLED, previous=current, detail="cancelled")
                return task_info(moved)
        raise Conflict(f"task {task_id} kept changing state; try again")

    async def delete(self, task_id: uuid.UUID, tenant: Tenant) -> None:
        """Delete a finished task with its timeline and records; an active one must be cancelled first."""
        task = await self._task(task_id, tenant)
        if not await self.repository.delete_finished(task_id):
            current = (await self.repository.get(task_id) or task)["status"]
            raise BadRequest(f"task {task_id} is {current}: cancel it before deleting it")

    async def delete_by_status(self, status: S, tenant: Tenant) -> PipelineTasksDeleted:
        """Delete every one of the caller's tasks in a finished `status`."""
        if not is_terminal(status):
            finished = ", ".join(sorted(s.value for s in S if is_terminal(s)))
            raise BadRequest(
                f"tasks that are {status.value} are active; only {finished} tasks can be deleted"
            )
        return PipelineTasksDeleted(deleted=await self.repository.delete_by_status(status, tenant.scope()))

    async def window_stats(self, hours: int, tenant: Tenant) -> PipelineStats:
        row = await self.repository.window_stats(hours, tenant.scope())
        by_status: dict[str, int] = json.loads(row["by_status"])
        completed, failed = by_status.get(S.COMPLETE.value, 0), by_status.get(S.FAILED.value, 0)
        return PipelineStats(
            window_hours=hours,
            total=row["total"],
            by_status=by_status,
            completed=completed,
            failed=failed,
            cancelled=by_status.get(S.CANCELLED.value, 0),
            success_rate=completed / (completed + failed) if completed + failed else None,
            cost_usd=row["cost_usd"],
            avg_duration_seconds=row["avg_duration_seconds"],
            needs_attention=row["needs_attention"],
        )

    async def latency(self, hours: int, tenant: Tenant) -> PipelineLatency:
        stages = [
            StageLatency.model_validate(dict(r))
            for r in await self.repository.stage_latency(hours, tenant.scope())
        ]
        total = await self.repository.end_to_end_latency(hours, tenant.scope())
        end_to_end = (
            StageLatency.model_validate({**dict(total), "stage": "end_to_end"}) if total["count"] else None
        )
        return PipelineLatency(window_hours=hours, stages=stages, end_to_end=end_to_end)

    async def notifications(self, tenant: Tenant) -> AsyncIterator[PipelineNotification]:
        """The caller's tasks as they complete, fail or start waiting for a person."""
        async for event in self.publisher.subscribe(None):
            kind = NOTIFICATION_OF_STATE.get(event.status)
            if kind is None or event.previous == event.status:
                continue
            try:
                task = await self._task(event.task_id, tenant)
            except NotFound:  # another tenant's task, or deleted since
                continue
            yield PipelineNotification(
                kind=kind, task_id=event.task_id, status=event.status, goal=task["goal"],
                detail=event.detail, at=event.at,
            )  # fmt: skip

    async def clarify(self, task_id: uuid.UUID, body: ClarifyRequest, tenant: Tenant) -> PipelineTaskInfo:
        task = await self._task(task_id, tenant)
        if task["status"] != S.CLARIFICATION_NEEDED.value:
            raise Conflict(f"task {task_id} is {task['status']}, not waiting for clarification")
        context_stages = [a["name"] for a in task["pod"]["agents"] if a["role"] == "context"]
        patch: dict[str, Any] = {
            "_clarification": {"questions": task["clarification_questions"], "answers": body.answers},
            **{name: None for name in context_stages},
        }
        moved = await self.repository.transition(
            task_id, S.CLARIFICATION_NEEDED, S.QUEUED, detail="clarification answered", worker_id="api",
            checkpoint_patch=patch, values={"clarification_questions": []},
        )  # fmt: skip
        if moved is None:
            raise Conflict(f"task {task_id} changed state meanwhile")
        await self.queue.push(task_id)
        await self.publisher.publish(task_id, S.QUEUED, previous=S.CLARIFICATION_NEEDED)
        return task_info(moved)

    async def review(self, task_id: uuid.UUID, body: HumanReviewDecision) -> PipelineTaskInfo:
        """The admin's decision on a task pending human review (the route admits only the admin)."""
        task = await self._task(task_id, Tenant("admin", privileged=True))
        if task["status"] != S.PENDING_HUMAN_REVIEW.value:
            raise Conflict(f"task {task_id} is {task['status']}, not pending human review")
        detail = f"human review: {body.decision}" + (f" ({body.comment})" if body.comment else "")
        if body.decision == "approve":
            moved = await self.repository.transition(
                task_id, S.PENDING_HUMAN_REVIEW, S.QUEUED, detail=detail, worker_id="api",
                checkpoint_patch={"_review_approved": True, "_review_comment": body.comment},
            )  # fmt: skip
        else:
            moved = await self.repository.transition(
                task_id, S.PENDING_HUMAN_REVIEW, S.FAILED, detail=detail, worker_id="api",
                values={"error": f"rejected in human review{': ' + body.comment if body.comment else ''}"},
            )  # fmt: skip
        if moved is None:
            raise Conflict(f"task {task_id} changed state meanwhile")
        if body.decision == "approve":
            await self.queue.push(task_id)
        await self.publisher.publish(
            task_id, S(moved["status"]), previous=S.PENDING_HUMAN_REVIEW, detail=detail
        )
        return task_info(moved)

    async def timeline(
        self, task_id: uuid.UUID, tenant: Tenant, *, limit: int, offset: int
    ) -> list[TimelineEntry]:
        await self._task(task_id, tenant)
        rows = await self.repository.timeline(task_id, limit=limit, offset=offset)
        return [TimelineEntry.model_validate(dict(r)) for r in rows]

    async def findings(
        self, task_id: uuid.UUID, tenant: Tenant, *, limit: int, offset: int
    ) -> list[PipelineFinding]:
        await self._task(task_id, tenant)
        rows = await self.repository.findings(task_id, limit=limit, offset=offset)
        return [PipelineFinding.model_validate(dict(r)) for r in rows]

    async def reviews(
        self, task_id: uuid.UUID, tenant: Tenant, *, limit: int, offset: int
    ) -> list[PipelineReview]:
        await self._task(task_id, tenant)
        rows = await self.repository.reviews(task_id, limit=limit, offset=offset)
        return [PipelineReview.model_validate(r) for r in rows]

    async def artifacts(
        self, task_id: uuid.UUID, tenant: Tenant, *, limit: int, offset: int
    ) -> list[PipelineArtifact]:
        await self._task(task_id, tenant)
        rows = await self.repository.artifacts(task_id, limit=limit, offset=offset)
        return [PipelineArtifact.model_validate(dict(r)) for r in rows]

    async def events(self, task_id: uuid.UUID | None, tenant: Tenant) -> AsyncIterator[PipelineProgressEvent]:
        """Live progress of one task or of every task the caller sees; an unknown task is a 404 up front."""
        if task_id is not None:
            await self._task(task_id, tenant)
        if tenant.sees_everything or task_id is not None:
            return self.publisher.subscribe(task_id)
        return self._own_events(tenant)

    async def _own_events(self, tenant: Tenant) -> AsyncIterator[PipelineProgressEvent]:
        visible: dict[uuid.UUID, bool] = {}
        async for event in self.publisher.subscribe(None):
            if event.task_id not in visible:
                if len(visible) >= VISIBILITY_CACHE:
                    visible.clear()  # a long-lived stream must not grow without bound
                visible[event.task_id] = await self.visible(event.task_id, tenant)
            if visible[event.task_id]:
                yield event

    async def stats(self) -> QueueStats:
        row = await self.repository.stats()
        return QueueStats(
            depth=await self.queue.depth(),
            processing=await self.queue.processing_count(),
            running=row["running"],
            queued=row["queued"],
            dead_letter=row["dead_letter"],
            workers=len(await self.queue.live_workers()),
            oldest_queued_age_seconds=row["oldest_queued_age_seconds"],
        )

    async def dead_letters(self, *, limit: int, offset: int) -> list[DeadLetterEntry]:
        return [
            DeadLetterEntry.model_validate(dict(r))
            for r in await self.repository.dead_letters(limit=limit, offset=offset)
        ]

    async def requeue_dead_letter(self, task_id: uuid.UUID) -> PipelineTaskInfo:
        moved = await self.repository.requeue_dead_letter(task_id)
        if moved is None:
            task = await self._task(task_id, Tenant("admin", privileged=True))
            raise Conflict(f"task {task_id} is {task['status']} and not in the dead letter")
        await self.queue.push(task_id)
        await self.publisher.publish(
            task_id, S.QUEUED, previous=S.FAILED, detail="re-queued from the dead letter"
        )
        return task_info(moved)
