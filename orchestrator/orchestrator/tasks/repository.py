"""Interactive task results in Redis DB 2 (`nova:task:{id}`), kept for a day."""

from uuid import UUID

import redis.asyncio as aioredis

from nova_contracts.orchestrator import TaskResult


def task_key(task_id: UUID) -> str:
    return f"nova:task:{task_id}"


class TaskRepository:
    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    async def save(self, result: TaskResult) -> None:
        await self.redis.set(task_key(result.task_id), result.model_dump_json(), ex=self.ttl_seconds)

    async def get(self, task_id: UUID) -> TaskResult | None:
        raw = await self.redis.get(task_key(task_id))
        return TaskResult.model_validate_json(raw) if raw else None
