"""Progress events on `nova:pipeline:events` (pub/sub, best effort) for the dashboard's live board."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
import structlog

from nova_contracts.base import utc_now
from nova_contracts.orchestrator import PipelineProgressEvent, PipelineTaskState
from orchestrator.pipeline.queue import EVENTS_CHANNEL

log = structlog.get_logger("orchestrator.pipeline.events")


class ProgressPublisher:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

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
