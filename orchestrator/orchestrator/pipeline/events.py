"""Progress events on `nova:pipeline:events` (pub/sub, best effort) for the dashboard's live board."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog

from nova_contracts.base import utc_now
from nova_contracts.orchestrator import TERMINAL_STATES, PipelineProgressEvent, PipelineTaskState
from orchestrator.pipeline.queue import EVENTS_CHANNEL
from orchestrator.pipeline.repository import Hop

log = structlog.get_logger("orchestrator.pipeline.events")

# Publishes each of ARGV on KEYS[1], in order: one command (one message each) for a batch of events.
_PUBLISH_MANY = """
for i = 1, #ARGV do
    redis.call('PUBLISH', KEYS[1], ARGV[i])
end
return #ARGV
"""


FinishedHook = Callable[[list[uuid.UUID]], Awaitable[None]]


class ProgressPublisher:
    def __init__(self, redis: aioredis.Redis, on_finished: FinishedHook | None = None) -> None:
        self.redis = redis
        self._publish_many = redis.register_script(_PUBLISH_MANY)
        # Every transition passes through here (workers, cancel, review, reaper), so this is the one place
        # that sees each task end: cortex hears of its goals' tasks from it.
        self.on_finished = on_finished

    async def _finished(self, task_ids: list[uuid.UUID]) -> None:
        if self.on_finished is None or not task_ids:
            return
        try:
            await self.on_finished(task_ids)
        except Exception:
            # cortex also polls the tasks it waits for: a lost notice only delays it.
            log.warning("task_finished_notice_failed", count=len(task_ids))

    async def publish(
        self,
        task_id: uuid.UUID,
        status: PipelineTaskState,
        *,
        previous: PipelineTaskState | None = None,
        stage: str | None = None,
        detail: str | None = None,
    ) -> None:
        event = PipelineProgressEvent(
            task_id=task_id, status=status, previous=previous, stage=stage, detail=detail, at=utc_now()
        )
        try:
            await self.redis.publish(EVENTS_CHANNEL, event.model_dump_json(exclude_none=True))
        except Exception:
            # The timeline in Postgres is the record; a missed live update only delays the dashboard.
            log.warning("progress_event_not_published", task_id=str(task_id), status=status.value)
        if status in TERMINAL_STATES:
            await self._finished([task_id])

    async def publish_hops(self, task_id: uuid.UUID, current: PipelineTaskState, hops: Sequence[Hop]) -> None:
        """One event per transition of a write, sent in one round trip."""
        await self.publish_many([(task_id, current, hops)])

    async def publish_many(
        self, writes: Sequence[tuple[uuid.UUID, PipelineTaskState, Sequence[Hop]]]
    ) -> None:
        """The transitions of several writes (each from its own `current` state), in one round trip."""
        at = utc_now()
        events: list[str] = []
        finished: list[uuid.UUID] = []
        for task_id, current, hops in writes:
            previous = current
            if hops and hops[-1].target in TERMINAL_STATES:
                finished.append(task_id)
            for hop in hops:
                # Built from values the pipeline itself produced: no validation needed, only the wire format.
                events.append(
                    PipelineProgressEvent.model_construct(
                        task_id=task_id, status=hop.target, previous=previous, stage=hop.stage, detail=hop.detail,
                        at=at,
                    ).model_dump_json(exclude_none=True)
                )  # fmt: skip
                previous = hop.target
        if not events:
            return
        try:
            await self._publish_many(keys=[EVENTS_CHANNEL], args=events)
        except Exception:
            log.warning("progress_events_not_published", count=len(events))
        await self._finished(finished)

    async def subscribe(self, task_id: uuid.UUID | None = None) -> AsyncIterator[PipelineProgressEvent]:
        pubsub: Any = self.redis.pubsub()
        await pubsub.subscribe(EVENTS_CHANNEL)
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=15.0)
                if message is None or message.get("type") != "message":
                    continue
                event = PipelineProgressEvent.model_validate_json(message["data"])
                if task_id is None or event.task_id == task_id:
                    yield event
        finally:
            await pubsub.unsubscribe(EVENTS_CHANNEL)
            await pubsub.aclose()
