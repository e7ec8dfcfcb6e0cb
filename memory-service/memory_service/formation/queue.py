"""The crash-safe ingestion queue in memory-service's Redis DB 0, shared by every memory-service process.

    producers  LPUSH  nova:memory:ingest:queue
    consumer   moves a batch (one blocking BLMOVE, then a Lua move of up to N-1 more) from the queue to its
               own list nova:memory:ingest:processing:<consumer id> while forming it; success: LREM from
               that list; failure: back to the queue, or after `max_attempts` to nova:memory:ingest:dead
    heartbeat  each consumer refreshes nova:memory:ingest:consumer:<id> (expires after `consumer_ttl`)
               and is listed in nova:memory:ingest:consumers
    reclaim    a consumer whose heartbeat expired (killed, partitioned) has its processing list moved back
               to the head of the queue by whichever live consumer notices first: one Lua script, so two
               reclaimers cannot both move it

Attempts are counted per item (hash `nova:memory:ingest:attempts`) when an item is *taken*, not when it
fails, so an item that kills its consumer outright (out of memory, SIGKILL) is dead-lettered the next time
it is taken past its attempts. Formation is idempotent per item id (the `ingestions` row is written in the
item's transaction), so a consumer wrongly declared dead (paused longer than its TTL) costs repeated work,
never a second copy of its memories.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from nova_common.errors import NotFound, RateLimited
from nova_contracts.memory import DeadLetter, IngestItem, QueueDepth

QUEUE_KEY = "nova:memory:ingest:queue"
# The single processing list of versions before per-consumer lists: reclaimed like a dead consumer's.
LEGACY_PROCESSING_KEY = "nova:memory:ingest:processing"
PROCESSING_PREFIX = "nova:memory:ingest:processing:"
CONSUMERS_KEY = "nova:memory:ingest:consumers"
HEARTBEAT_PREFIX = "nova:memory:ingest:consumer:"
DEAD_KEY = "nova:memory:ingest:dead"
ATTEMPTS_KEY = "nova:memory:ingest:attempts"

# KEYS: queue, processing. ARGV: how many. Non-blocking: the caller blocks on BLMOVE for the first item.
_TAKE_MORE = """
local taken = {}
for i = 1, tonumber(ARGV[1]) do
    local raw = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
    if not raw then break end
    taken[i] = raw
end
return taken
"""
# KEYS: queue, the dead consumer's processing list, its heartbeat, the consumer set. ARGV: its id.
# Newest first to the head, so the oldest ends nearest the head, as they were taken.
_RECLAIM = """
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local moved = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do moved = moved + 1 end
if ARGV[1] ~= '' then redis.call('SREM', KEYS[4], ARGV[1]) end
return moved
"""


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
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        max_length: int,
        max_attempts: int,
        consumer_id: str | None = None,
        consumer_ttl_seconds: float = 30.0,
    ) -> None:
        self.redis = redis
        self.max_length = max_length
        self.max_attempts = max_attempts
        self.consumer_id = consumer_id or uuid.uuid4().hex
        self.consumer_ttl_ms = max(1000, int(consumer_ttl_seconds * 1000))
        self.processing_key = PROCESSING_PREFIX + self.consumer_id
        self._take_more = redis.register_script(_TAKE_MORE)
        self._reclaim = redis.register_script(_RECLAIM)

    async def enqueue(self, item: IngestItem) -> int:
        """Queue the item; a full queue is a 429 (the producer retries later), not unbounded growth."""
        depth = int(await self.redis.llen(QUEUE_KEY))
        if depth >= self.max_length:
            raise RateLimited(
                f"the ingestion queue is full ({depth} items waiting); retry later", retry_after=30
            )
        return int(await self.redis.lpush(QUEUE_KEY, item.model_dump_json()))

    async def heartbeat(self) -> None:
        """Say this consumer is alive; call more often than the TTL (`IngestWorker` does, every third)."""
        async with self.redis.pipeline(transaction=True) as tx:
            tx.set(HEARTBEAT_PREFIX + self.consumer_id, "1", px=self.consumer_ttl_ms)
            tx.sadd(CONSUMERS_KEY, self.consumer_id)
            await tx.execute()

    async def reclaim(self) -> dict[str, int]:
        """Put back what consumers that stopped (heartbeat expired) left in their processing lists."""
        consumers = {_text(c) for c in await self.redis.smembers(CONSUMERS_KEY)} - {self.consumer_id}
        requeued = reclaimed = 0
        for consumer in sorted(consumers):
            keys = [QUEUE_KEY, PROCESSING_PREFIX + consumer, HEARTBEAT_PREFIX + consumer, CONSUMERS_KEY]
            moved = int(await self._reclaim(keys=keys, args=[consumer]))
            if moved >= 0:
                reclaimed += 1
                requeued += moved
        # Nothing beats for the list of an earlier version: whatever is in it was left by a stopped process.
        keys = [QUEUE_KEY, LEGACY_PROCESSING_KEY, HEARTBEAT_PREFIX + "legacy", CONSUMERS_KEY]
        requeued += max(0, int(await self._reclaim(keys=keys, args=[""])))
        return {"requeued": requeued, "consumers_reclaimed": reclaimed}

    async def recover(self) -> dict[str, int]:
        """On start: announce this consumer and put back its own list (a restart under the same id) and
        every stopped consumer's."""
        own = [QUEUE_KEY, self.processing_key, HEARTBEAT_PREFIX + self.consumer_id, CONSUMERS_KEY]
        await self.redis.delete(HEARTBEAT_PREFIX + self.consumer_id)
        requeued = int(await self._reclaim(keys=own, args=[self.consumer_id]))
        await self.heartbeat()
        others = await self.reclaim()
        return {**others, "requeued": others["requeued"] + max(0, requeued)}

    async def take(self, wait_seconds: float) -> Taken | None:
        batch = await self.take_batch(wait_seconds, 1)
        return batch[0] if batch else None

    async def take_batch(self, wait_seconds: float, size: int) -> list[Taken]:
        """Up to `size` items into this consumer's processing list; waits for the first one only."""
        value = await self.redis.blmove(
            QUEUE_KEY, self.processing_key, max(1, round(wait_seconds)), "RIGHT", "LEFT"
        )
        if value is None:
            return []
        raws = [_text(value)]
        if size > 1:
            raws += [
                _text(v)
                for v in await self._take_more(keys=[QUEUE_KEY, self.processing_key], args=[size - 1])
            ]
        keys = [item_key(raw) for raw in raws]
        async with self.redis.pipeline(transaction=False) as p:
            for key in keys:
                p.hincrby(ATTEMPTS_KEY, key, 1)
            attempts = await p.execute()
        return [Taken(raw=r, key=k, attempts=int(a)) for r, k, a in zip(raws, keys, attempts, strict=True)]

    async def done(self, *taken: Taken) -> None:
        async with self.redis.pipeline(transaction=True) as tx:
            for one in taken:
                tx.lrem(self.processing_key, 1, one.raw)
                tx.hdel(ATTEMPTS_KEY, one.key)
            await tx.execute()

    async def failed(self, taken: Taken, error: str) -> bool:
        """Back to the queue, or to the dead letters once it has had its attempts; True if dead-lettered."""
        dead = taken.attempts >= self.max_attempts
        async with self.redis.pipeline(transaction=True) as tx:
            tx.lrem(self.processing_key, 1, taken.raw)
            if dead:
                tx.lpush(DEAD_KEY, _dead_letter(taken, error))
                tx.hdel(ATTEMPTS_KEY, taken.key)
            else:
                # To the tail: the items behind it get their turn before it is tried again.
                tx.lpush(QUEUE_KEY, taken.raw)
            await tx.execute()
        return dead

    def exhausted(self, taken: Taken) -> bool:
        """Taken more often than its attempts: every earlier consumer stopped while forming it."""
        return taken.attempts > self.max_attempts

    async def depth(self) -> QueueDepth:
        consumers = sorted(_text(c) for c in await self.redis.smembers(CONSUMERS_KEY))
        async with self.redis.pipeline(transaction=False) as p:
            p.llen(QUEUE_KEY)
            p.llen(DEAD_KEY)
            p.llen(LEGACY_PROCESSING_KEY)
            for consumer in consumers:
                p.llen(PROCESSING_PREFIX + consumer)
            queued, dead, *processing = await p.execute()
        return QueueDepth(queued=queued, processing=sum(processing), dead_letters=dead)

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
