"""cortex's own state in its Redis DB 5: running or paused, counters, attempts in flight, the lease.

Everything a restart needs is here (or in the orchestrator's tables), so a cortex killed mid-cycle
re-attaches to the attempts it had in flight instead of starting them again.
"""

import json
from datetime import UTC, datetime
from uuid import UUID

import redis.asyncio as aioredis
from pydantic import TypeAdapter
from redis.typing import EncodableT, FieldT

from nova_contracts.cortex import BudgetStatus, DriveUrgency, InFlightIteration

STATE_KEY = "nova:cortex:state"
IN_FLIGHT_KEY = "nova:cortex:in_flight"
DUE_KEY = "nova:cortex:due"  # goals whose schedule fired (or that were triggered) and wait to be served
LEASE_KEY = "nova:cortex:lease"
INBOX_KEY = "nova:cortex:inbox"  # the person's latest journal messages, for planning prompts
INBOX_SIZE = 20
FAILED_LAST_KEY = "nova:cortex:failed_last"

_DRIVES = TypeAdapter(list[DriveUrgency])


def _text(value: bytes | str) -> str:
    """The client decodes responses (decode_responses=True); the types cannot say so."""
    return value.decode() if isinstance(value, bytes) else value


class CortexState:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def snapshot(self) -> dict[str, str]:
        data = await self.redis.hgetall(STATE_KEY)
        return {_text(k): _text(v) for k, v in data.items()}

    async def paused(self) -> bool:
        return await self.redis.hget(STATE_KEY, "status") == "paused"

    async def set_status(self, status: str) -> None:
        await self.redis.hset(STATE_KEY, "status", status)

    async def record_cycle(
        self, *, drive: str | None, action: str, drives: list[DriveUrgency], budget: BudgetStatus | None
    ) -> int:
        count = int(await self.redis.hincrby(STATE_KEY, "cycle_count", 1))
        values: dict[FieldT, EncodableT] = {
            "last_cycle_at": datetime.now(UTC).isoformat(),
            "current_drive": drive or "",
            "last_action": action,
            "drives": _DRIVES.dump_json(drives).decode(),
        }
        if budget is not None:
            values["budget"] = budget.model_dump_json()
        await self.redis.hset(STATE_KEY, mapping=values)
        return count

    async def drives(self) -> list[DriveUrgency]:
        raw = await self.redis.hget(STATE_KEY, "drives")
        return _DRIVES.validate_json(raw) if raw else []

    async def budget(self) -> BudgetStatus | None:
        raw = await self.redis.hget(STATE_KEY, "budget")
        return BudgetStatus.model_validate_json(raw) if raw else None

    async def journal_cursor(self) -> datetime | None:
        raw = await self.redis.hget(STATE_KEY, "journal_cursor")
        return datetime.fromisoformat(_text(raw)) if raw else None

    async def set_journal_cursor(self, at: datetime) -> None:
        await self.redis.hset(STATE_KEY, "journal_cursor", at.isoformat())

    # Attempts in flight ------------------------------------------------------------------------------

    async def in_flight(self) -> list[InFlightIteration]:
        raw = await self.redis.hgetall(IN_FLIGHT_KEY)
        return [InFlightIteration.model_validate_json(v) for v in raw.values()]

    async def put_in_flight(self, attempt: InFlightIteration) -> None:
        await self.redis.hset(IN_FLIGHT_KEY, str(attempt.goal_id), attempt.model_dump_json())

    async def drop_in_flight(self, goal_id: UUID) -> None:
        await self.redis.hdel(IN_FLIGHT_KEY, str(goal_id))

    # Due goals and the person's messages -------------------------------------------------------------

    async def mark_due(self, goal_id: UUID) -> None:
        await self.redis.sadd(DUE_KEY, str(goal_id))

    async def due(self) -> set[UUID]:
        return {UUID(_text(v)) for v in await self.redis.smembers(DUE_KEY)}

    async def served(self, goal_id: UUID) -> None:
        await self.redis.srem(DUE_KEY, str(goal_id))

    async def remember_messages(self, messages: list[str]) -> None:
        if messages:
            await self.redis.lpush(INBOX_KEY, *[json.dumps(m) for m in messages])
            await self.redis.ltrim(INBOX_KEY, 0, INBOX_SIZE - 1)

    async def inbox(self, count: int = 5) -> list[str]:
        return [json.loads(v) for v in await self.redis.lrange(INBOX_KEY, 0, count - 1)]

    # Counters and the goals whose latest attempt failed ----------------------------------------------

    async def add_counter(self, name: str, amount: int) -> None:
        await self.redis.hincrby(STATE_KEY, name, amount)

    async def reset_counters(self, *names: str) -> None:
        await self.redis.hdel(STATE_KEY, *names)

    async def failed_last(self) -> set[UUID]:
        return {UUID(_text(v)) for v in await self.redis.smembers(FAILED_LAST_KEY)}

    async def set_failed_last(self, goal_id: UUID, failed: bool) -> None:
        if failed:
            await self.redis.sadd(FAILED_LAST_KEY, str(goal_id))
        else:
            await self.redis.srem(FAILED_LAST_KEY, str(goal_id))
