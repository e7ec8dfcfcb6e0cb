"""Agents in Redis DB 2: one hash per agent (`nova:agent:{id}`) and the set of ids (`nova:agents`).

Status and `last_active` are separate hash fields, so marking an agent running never overwrites a config
change another request made in between.
"""

from datetime import UTC, datetime
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis

from nova_contracts.orchestrator import AgentConfig, AgentInfo, AgentStatus

# What redis-py accepts as hash keys and values.
RedisValue = str | bytes | bytearray | memoryview | int | float

AGENTS_SET = "nova:agents"
PRIMARY_POINTER = "nova:agent:primary"


_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSET', KEYS[1], unpack(ARGV))
end
return 0
"""


# KEYS[1] the primary pointer; ARGV[1] the agent hash keys' prefix. Returns {id, field, value, ...} or nil.
_PRIMARY = """
local agent_id = redis.call('GET', KEYS[1])
if not agent_id then
  return nil
end
local fields = redis.call('HGETALL', ARGV[1] .. agent_id)
table.insert(fields, 1, agent_id)
return fields
"""


def agent_key(agent_id: UUID | str) -> str:
    return f"nova:agent:{agent_id}"


def _parse(agent_id: str, fields: dict[str, str]) -> AgentInfo:
    return AgentInfo(
        id=UUID(agent_id),
        config=AgentConfig.model_validate_json(fields["config"]),
        status=AgentStatus(fields["status"]),
        created_at=datetime.fromisoformat(fields["created_at"]),
        last_active=datetime.fromisoformat(fields["last_active"]) if fields.get("last_active") else None,
        primary=fields.get("primary") == "1",
        # Agents saved before keys were tenants carry no owner: they are the admin's.
        owner=fields.get("owner") or "admin",
    )


def _parse_primary(found: list[str] | None) -> AgentInfo | None:
    """The `_PRIMARY` script's answer: the agent's id, then its hash's fields and values."""
    if not found:
        return None
    agent_id, *pairs = found
    fields = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return _parse(agent_id, fields) if fields.get("config") else None


class AgentRepository:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def save(self, agent: AgentInfo) -> None:
        fields: dict[RedisValue, RedisValue] = {
            "config": agent.config.model_dump_json(),
            "status": agent.status.value,
            "created_at": agent.created_at.isoformat(),
            "primary": "1" if agent.primary else "0",
            "owner": agent.owner,
        }
        if agent.last_active:
            fields["last_active"] = agent.last_active.isoformat()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(agent_key(agent.id), mapping=fields)
            pipe.sadd(AGENTS_SET, str(agent.id))
            await pipe.execute()

    async def get(self, agent_id: UUID) -> AgentInfo | None:
        fields = cast(dict[str, str], await self.redis.hgetall(agent_key(agent_id)))
        return _parse(str(agent_id), fields) if fields.get("config") else None

    async def list(self) -> list[AgentInfo]:
        ids = sorted(cast(set[str], await self.redis.smembers(AGENTS_SET)))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.hgetall(agent_key(agent_id))
            rows = await pipe.execute()
        agents = [_parse(i, f) for i, f in zip(ids, rows, strict=True) if f.get("config")]
        return sorted(agents, key=lambda a: a.created_at)

    async def set_config(self, agent_id: UUID, config: AgentConfig) -> None:
        await self.redis.hset(agent_key(agent_id), "config", config.model_dump_json())

    async def set_status(self, agent_id: UUID, status: AgentStatus, *, active: bool = False) -> None:
        fields: dict[RedisValue, RedisValue] = {"status": status.value}
        if active:
            fields["last_active"] = datetime.now(UTC).isoformat()
        # Only an agent that still exists: a turn finishing after a delete must not resurrect a stub. Checked
        # and written in one script, so one round trip (twice a turn) and no delete slipping in between.
        arguments = [part for pair in fields.items() for part in pair]
        await self.redis.eval(_SET_IF_EXISTS, 1, agent_key(agent_id), *arguments)

    async def set_primary_flag(self, agent_id: UUID, primary: bool) -> None:
        await self.redis.hset(agent_key(agent_id), "primary", "1" if primary else "0")

    async def delete(self, agent_id: UUID) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(agent_key(agent_id))
            pipe.srem(AGENTS_SET, str(agent_id))
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def primary(self) -> AgentInfo | None:
        """The agent the primary pointer names, read with the pointer in one round trip (every dashboard chat
        turn and OpenAI-compatible call starts here)."""
        found = cast(list[str] | None, await self.redis.eval(_PRIMARY, 1, PRIMARY_POINTER, agent_key("")))
        return _parse_primary(found)

    async def get_and_set(
        self, agent_id: UUID | None, key: str, value: str, *, seconds: int
    ) -> tuple[AgentInfo | None, bool]:
        """The agent (`None`: the primary) read in the same round trip as `SET key value NX EX seconds`, a
        caller's lock: what every chat turn starts with. Returns the agent (None when missing) and whether the
        key was set."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, value, nx=True, ex=seconds)
            if agent_id is None:
                pipe.eval(_PRIMARY, 1, PRIMARY_POINTER, agent_key(""))
            else:
                pipe.hgetall(agent_key(agent_id))
            was_set, found = await pipe.execute()
        if agent_id is None:
            return _parse_primary(found), bool(was_set)
        return (_parse(str(agent_id), found) if found.get("config") else None), bool(was_set)

    async def primary_pointer(self) -> str | None:
        return cast(str | None, await self.redis.get(PRIMARY_POINTER))

    async def set_primary_pointer(self, agent_id: UUID) -> None:
        await self.redis.set(PRIMARY_POINTER, str(agent_id))

    async def acquire_lock(self, name: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(f"nova:lock:{name}", "1", nx=True, px=ttl_ms))

    async def release_lock(self, name: str) -> None:
        await self.redis.delete(f"nova:lock:{name}")
