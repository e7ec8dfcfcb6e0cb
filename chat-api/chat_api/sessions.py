"""Chat sessions in Redis DB 3: `nova:chat:session:{id}` and the conversation history that goes with it.

A session lives 7 days after its last use (every turn and every reconnect refreshes the TTL), so a client that
reconnects with its `session_id` continues the same conversation.
"""

import uuid
from datetime import UTC, datetime

import redis.asyncio as aioredis

from nova_contracts.chat import ChatSession
from nova_contracts.llm import Message


def session_key(session_id: str) -> str:
    return f"nova:chat:session:{session_id}"


def history_key(session_id: str) -> str:
    return f"nova:chat:session:{session_id}:history"


def agent_key(owner: str) -> str:
    """The agent that answers an owner's sessions: one per owner, since a key may use only its own agents."""
    return f"nova:chat:agent_id:{owner}"


class SessionStore:
    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int, max_history: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.max_history = max_history

    async def get(self, session_id: str) -> ChatSession | None:
        raw = await self.redis.get(session_key(session_id))
        return ChatSession.model_validate_json(raw) if raw else None

    async def create(self, owner: str) -> ChatSession:
        now = datetime.now(UTC)
        key_id = owner.removeprefix("key:") if owner.startswith("key:") else None
        session = ChatSession(
            session_id=uuid.uuid4().hex, key_id=key_id, owner=owner, created_at=now, last_active=now
        )
        await self.save(session)
        return session

    async def resume(self, session_id: str | None, owner: str) -> ChatSession:
        """The session `session_id` if it exists and belongs to this caller; a fresh one otherwise."""
        if session_id:
            session = await self.get(session_id)
            if session is not None and session.tenant == owner:
                await self.touch(session)
                return session
        return await self.create(owner)

    async def save(self, session: ChatSession) -> None:
        await self.redis.set(session_key(session.session_id), session.model_dump_json(), ex=self.ttl_seconds)

    async def touch(self, session: ChatSession) -> None:
        session.last_active = datetime.now(UTC)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(session_key(session.session_id), session.model_dump_json(), ex=self.ttl_seconds)
            pipe.expire(history_key(session.session_id), self.ttl_seconds)
            await pipe.execute()

    async def history(self, session_id: str) -> list[Message]:
        raw = await self.redis.lrange(history_key(session_id), 0, -1)
        return [Message.model_validate_json(item) for item in raw]

    async def record_turn(self, session_id: str, user: str, assistant: str) -> ChatSession | None:
        """Append one exchange to the history (capped at `max_history` messages) and count it."""
        key = history_key(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(
                key,
                Message(role="user", content=user).model_dump_json(),
                Message(role="assistant", content=assistant).model_dump_json(),
            )
            pipe.ltrim(key, -self.max_history, -1)
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()
        session = await self.get(session_id)
        if session is not None:
            session.message_count += 1
            await self.touch(session)
        return session

    async def chat_agent_id(self, owner: str) -> str | None:
        value = await self.redis.get(agent_key(owner))
        return str(value) if value else None

    async def set_chat_agent_id(self, owner: str, agent_id: str | None) -> None:
        if agent_id is None:
            await self.redis.delete(agent_key(owner))
        else:
            await self.redis.set(agent_key(owner), agent_id)
