"""The crash-safe ingestion queue in memory-service's Redis DB 0.

    producers  LPUSH  nova:memory:ingest:queue
    worker     BLMOVE queue RIGHT -> nova:memory:ingest:processing LEFT   (the item stays in Redis while formed)
               success: LREM it from processing; failure: back to the queue, or after `max_attempts`
               to nova:memory:ingest:dead with the last error
    on start   whatever a killed worker left in processing goes back to the head of the queue

Attempts are counted per item (hash `nova:memory:ingest:attempts`) when an item is *taken*, not when it
fails, so an item that kills the worker outright (out of memory, SIGKILL) still reaches the dead letters.
One memory-service process consumes the queue: the processing list is not split per worker, so a second
replica starting up would re-queue the first one's items in flight (formation is idempotent per item id,
so that costs work, not correctness).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from nova_common.errors import NotFound, RateLimited
from nova_contracts.memory import DeadLetter, IngestItem, QueueDepth

QUEUE_KEY = "nova:memory:ingest:queue"
PROCESSING_KEY = "nova:memory:ingest:processing"
DEAD_KEY = "nova:memory:ingest:dead"
ATTEMPTS_KEY = "nova:memory:ingest:attempts"


def item_key(raw: str) -> str:
    """The item's id, or for an entry that does not parse a digest of it: attempts are counted under it."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and 0 < len(value["id"]) <= 64:
        return value["id"]
    return "sha256:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Taken:
    raw: str
    key: str
    attempts: int


class IngestQueue:
    def __init__(self, redis: aioredis.Redis, *, max_length: int, max_attempts: int) -> None:
        self.redis = redis
        self.max_length = max_length
        self.max_attempts = max_attempts

    async def enqueue(self, item: IngestItem) -> int:
        """Queue the item; a full queue is a 429 (the producer retries later), not unbounded growth."""
        depth = int(await self.redis.llen(QUEUE_KEY))
        if depth >= self.max_length:
            raise RateLimited(
                f"the ingestion queue is full ({depth} items waiting); retry later", retry_after=30
            )
        return int(await self.redis.lpush(QUEUE_KEY, item.model_dump_json()))

    async def take(self, wait_seconds: float) -> Taken | None:
        value = await self.redis.blmove(
            QUEUE_KEY, PROCESSING_KEY, max(1, round(wait_seconds)), "RIGHT", "LEFT"
        )
        if value is None:
            return None
        raw = _text(value)
        key = item_key(raw)
        attempts = int(await self.redis.hincrby(ATTEMPTS_KEY, key, 1))
        return Taken(raw=raw, key=key, attempts=attempts)

    async def done(self, taken: Taken) -> None:
        async with self.redis.pipeline(transaction=True) as tx:
            tx.lrem(PROCESSING_KEY, 1, taken.raw)
            tx.hdel(ATTEMPTS_KEY, taken.key)
            await tx.execute()

    async def failed(self, taken: Taken, error: str) -> bool:
        """Back to the queue, or to the dead letters once it has had its attempts; True if dead-lettered."""
        dead = taken.attempts >= self.max_attempts
        async with self.redis.pipeline(transaction=True) as tx:
            tx.lrem(PROCESSING_KEY, 1, taken.raw)
            if dead:
                tx.lpush(DEAD_KEY, _dead_letter(taken, error))
                tx.hdel(ATTEMPTS_KEY, taken.key)
            else:
                # To the tail: the items behind it get their turn before it is tried again.
                tx.lpush(QUEUE_KEY, taken.raw)
            await tx.execute()
        return dead

    async def recover(self) -> dict[str, int]:
        """Put back what a stopped worker left in the processing list; call before consuming."""
        requeued = dead = 0
        for value in await self.redis.lrange(PROCESSING_KEY, 0, -1):
            raw = _text(value)
            key = item_key(raw)
            attempts = int(await self.redis.hget(ATTEMPTS_KEY, key) or 0)
            async with self.redis.pipeline(transaction=True) as tx:
                tx.lrem(PROCESSING_KEY, 1, raw)
                if attempts >= self.max_attempts:
                    taken = Taken(raw=raw, key=key, attempts=attempts)
                    tx.lpush(DEAD_KEY, _dead_letter(taken, "the worker stopped while forming it"))
                    tx.hdel(ATTEMPTS_KEY, key)
                    dead += 1
                else:
                    # To the head: it was next in line before the worker stopped.
                    tx.rpush(QUEUE_KEY, raw)
                    requeued += 1
                await tx.execute()
        return {"requeued": requeued, "dead_lettered": dead}

    async def depth(self) -> QueueDepth:
        async with self.redis.pipeline(transaction=False) as p:
            p.llen(QUEUE_KEY)
            p.llen(PROCESSING_KEY)
            p.llen(DEAD_KEY)
            queued, processing, dead = await p.execute()
        return QueueDepth(queued=queued, processing=processing, dead_letters=dead)

    async def dead_letters(self, *, offset: int, limit: int) -> tuple[list[DeadLetter], int]:
        total = int(await self.redis.llen(DEAD_KEY))
        raws = await self.redis.lrange(DEAD_KEY, offset, offset + limit - 1)
        return [DeadLetter.model_validate_json(raw) for raw in raws], total

    async def _find_dead(self, letter_id: str) -> tuple[str, DeadLetter]:
        for value in await self.redis.lrange(DEAD_KEY, 0, -1):
            raw = _text(value)
            letter = DeadLetter.model_validate_json(raw)
            if letter.id == letter_id:
                return raw, letter
        raise NotFound(f"dead letter {letter_id} not found")

    async def requeue_dead(self, letter_id: str) -> DeadLetter:
        """Give a dead letter a fresh set of attempts (after fixing what made it fail)."""
        raw, letter = await self._find_dead(letter_id)
        async with self.redis.pipeline(transaction=True) as tx:
            tx.lrem(DEAD_KEY, 1, raw)
            tx.hdel(ATTEMPTS_KEY, letter.id)
            tx.lpush(QUEUE_KEY, letter.payload)
            removed, _, _ = await tx.execute()
        if not removed:  # requeued or deleted by a concurrent call in between
            raise NotFound(f"dead letter {letter_id} not found")
        return letter

    async def delete_dead(self, letter_id: str) -> None:
        raw, _ = await self._find_dead(letter_id)
        if not await self.redis.lrem(DEAD_KEY, 1, raw):
            raise NotFound(f"dead letter {letter_id} not found")


def _text(value: bytes | str) -> str:
    # The client decodes responses (decode_responses=True); the union is only the library's typing.
    return value.decode() if isinstance(value, bytes) else value


def _dead_letter(taken: Taken, error: str) -> str:
    return DeadLetter(
        id=taken.key,
        attempts=taken.attempts,
        error=error[:2000],
        failed_at=datetime.now(UTC),
        payload=taken.raw,
    ).model_dump_json()
