"""The Redis side of the task queue (orchestrator DB 2): the shared list, per-worker processing lists, liveness.

Producers LPUSH task ids; a worker BLMOVEs the oldest id into its own processing list, so an id is never only
in a worker's memory: if the worker dies before the Postgres claim, the reaper finds the id in a processing
list nobody owns any more. Postgres is the source of truth; Redis only says "look at this task now".
"""

import uuid
from typing import Any

import redis.asyncio as aioredis

QUEUE_KEY = "nova:pipeline:queue"
PROCESSING_PREFIX = "nova:pipeline:processing:"
WORKER_PREFIX = "nova:pipeline:worker:"
DEAD_LETTER_KEY = "nova:pipeline:dead_letter"
EVENTS_CHANNEL = "nova:pipeline:events"
CANCEL_CHANNEL = "nova:pipeline:cancel"
REAPER_LOCK_KEY = "nova:pipeline:reaper_lock"

# Moves up to ARGV[1] ids from the queue's tail into the processing list in one atomic step.
_TAKE_MANY = """
local taken = {}
for _ = 1, tonumber(ARGV[1]) do
    local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
    if not id then break end
    taken[#taken + 1] = id
end
return taken
"""
# Removes each of ARGV once from the processing list KEYS[1]: one command for a whole batch.
_FORGET_MANY = """
for i = 1, #ARGV do
    redis.call('LREM', KEYS[1], 1, ARGV[i])
end
return #ARGV
"""


def _task_ids(raw: list[Any]) -> tuple[list[uuid.UUID], list[str]]:
    """The ids that are task ids, and the entries that are not (to be dropped from the processing list)."""
    ids: list[uuid.UUID] = []
    junk: list[str] = []
    for entry in raw:
        try:
            ids.append(uuid.UUID(str(entry)))
        except ValueError:
            junk.append(str(entry))
    return ids, junk


class TaskQueue:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._take_many = redis.register_script(_TAKE_MANY)
        self._forget_many = redis.register_script(_FORGET_MANY)

    async def push(self, *task_ids: uuid.UUID) -> None:
        if task_ids:
            await self.redis.lpush(QUEUE_KEY, *[str(t) for t in task_ids])

    async def take(self, worker_id: str, wait_seconds: int) -> uuid.UUID | None:
        """Block until an id is available; it is moved atomically into this worker's processing list."""
        raw = await self.redis.blmove(QUEUE_KEY, PROCESSING_PREFIX + worker_id, wait_seconds, "RIGHT", "LEFT")
        if raw is None:
            return None
        try:
            return uuid.UUID(str(raw))
        except ValueError:
            # Not ours to run; drop it so it cannot block the worker again.
            await self.done(worker_id, str(raw))
            return None

    async def take_waiting(self, worker_id: str, limit: int) -> list[uuid.UUID]:
        """Without blocking, move up to `limit` waiting ids into this worker's processing list."""
        raw = await self._take_many(keys=[QUEUE_KEY, PROCESSING_PREFIX + worker_id], args=[limit])
        ids, junk = _task_ids(raw)
        if junk:
            await self.done(worker_id, *junk)
        return ids

    async def done(self, worker_id: str, *task_ids: uuid.UUID | str) -> None:
        """Drop ids from this worker's processing list (each occurrence once)."""
        if len(task_ids) == 1:
            await self.redis.lrem(PROCESSING_PREFIX + worker_id, 1, str(task_ids[0]))
        elif task_ids:
            await self._forget_many(keys=[PROCESSING_PREFIX + worker_id], args=[str(t) for t in task_ids])

    async def mark_alive(self, worker_id: str, ttl_seconds: int) -> None:
        await self.redis.set(WORKER_PREFIX + worker_id, "1", ex=ttl_seconds)

    async def forget_worker(self, worker_id: str) -> None:
        await self.redis.delete(WORKER_PREFIX + worker_id)

    async def live_workers(self) -> set[str]:
        return {
            key[len(WORKER_PREFIX) :] async for key in self.redis.scan_iter(f"{WORKER_PREFIX}*", count=500)
        }

    async def processing_lists(self) -> dict[str, list[str]]:
        lists: dict[str, list[str]] = {}
        async for key in self.redis.scan_iter(f"{PROCESSING_PREFIX}*", count=500):
            lists[key[len(PROCESSING_PREFIX) :]] = [str(i) for i in await self.redis.lrange(key, 0, -1)]
        return lists

    async def drop_processing_list(self, worker_id: str) -> None:
        await self.redis.delete(PROCESSING_PREFIX + worker_id)

    async def waiting_ids(self) -> set[str]:
        return {str(i) for i in await self.redis.lrange(QUEUE_KEY, 0, -1)}

    async def depth(self) -> int:
        return int(await self.redis.llen(QUEUE_KEY))

    async def processing_count(self) -> int:
        total = 0
        async for key in self.redis.scan_iter(f"{PROCESSING_PREFIX}*", count=500):
            total += int(await self.redis.llen(key))
        return total

    async def add_dead_letter(self, entry_json: str, cap: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(DEAD_LETTER_KEY, entry_json)
            pipe.ltrim(DEAD_LETTER_KEY, 0, cap - 1)
            await pipe.execute()

    async def acquire_reaper_lock(self, owner: str, ttl_seconds: float) -> bool:
        """One reaper sweep per interval across all orchestrator processes."""
        return bool(await self.redis.set(REAPER_LOCK_KEY, owner, nx=True, px=max(1, int(ttl_seconds * 1000))))
