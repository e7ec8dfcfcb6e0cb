"""Session mapping in Redis DB 4: `nova:bridge:{platform}:{platform_id}` → the Nova session of a chat.

A mapping lives 7 days after the last message (each turn refreshes it); `/new` deletes it, so the next
message starts a fresh session. A chat's wish for spoken replies (`/voice on`) is kept until it is turned off.
"""

import uuid
from datetime import UTC, datetime

import redis.asyncio as aioredis

from nova_contracts.chat import BridgeSession
from nova_contracts.llm import Message

AGENT_KEY = "nova:bridge:agent_id"
MAX_HISTORY_MESSAGES = 40


def mapping_key(platform: str, platform_id: str) -> str:
    return f"nova:bridge:{platform}:{platform_id}"


def history_key(session_id: str) -> str:
    return f"nova:bridge:history:{session_id}"


def voice_replies_key(platform: str, chat_id: str) -> str:
    return f"nova:bridge:voice:{platform}:{chat_id}"


def refusal_key(platform: str, platform_id: str) -> str:
    return f"nova:bridge:refused:{platform}:{platform_id}"


class BridgeSessionStore:
    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    async def get(self, platform: str, platform_id: str) -> BridgeSession | None:
        raw = await self.redis.get(mapping_key(platform, platform_id))
        return BridgeSession.model_validate_json(raw) if raw else None

    async def get_or_create(self, platform: str, platform_id: str) -> BridgeSession:
        session = await self.get(platform, platform_id)
        if session is None:
            session = BridgeSession(session_id=uuid.uuid4().hex, created_at=datetime.now(UTC))
            await self.save(platform, platform_id, session)
        return session

    async def save(self, platform: str, platform_id: str, session: BridgeSession) -> None:
        await self.redis.set(
            mapping_key(platform, platform_id), session.model_dump_json(), ex=self.ttl_seconds
        )

    async def reset(self, platform: str, platform_id: str) -> bool:
        """Forget the chat's session; True if there was one."""
        session = await self.get(platform, platform_id)
        if session is None:
            return False
        await self.redis.delete(mapping_key(platform, platform_id), history_key(session.session_id))
        return True

    async def history(self, session_id: str) -> list[Message]:
        return [
            Message.model_validate_json(m) for m in await self.redis.lrange(history_key(session_id), 0, -1)
        ]

    async def record_turn(
        self, platform: str, platform_id: str, session: BridgeSession, user: str, reply: str
    ) -> None:
        key = history_key(session.session_id)
        session.message_count += 1
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(
                key,
                Message(role="user", content=user).model_dump_json(),
                Message(role="assistant", content=reply).model_dump_json(),
            )
            pipe.ltrim(key, -MAX_HISTORY_MESSAGES, -1)
            pipe.expire(key, self.ttl_seconds)
            pipe.set(mapping_key(platform, platform_id), session.model_dump_json(), ex=self.ttl_seconds)
            await pipe.execute()

    async def claim_refusal(self, platform: str, platform_id: str, *, every_seconds: int) -> bool:
        """True if the chat has not been told it is not allowed within `every_seconds`: a stranger gets one
        explanation, not one per message (the bot must not become a spam amplifier)."""
        return bool(await self.redis.set(refusal_key(platform, platform_id), "1", nx=True, ex=every_seconds))

    async def voice_replies(self, platform: str, chat_id: str) -> bool:
        return bool(await self.redis.exists(voice_replies_key(platform, chat_id)))

    async def set_voice_replies(self, platform: str, chat_id: str, on: bool) -> None:
        # Not tied to the session: `/new` starts a fresh conversation, not a silent chat.
        if on:
            await self.redis.set(voice_replies_key(platform, chat_id), "1")
        else:
            await self.redis.delete(voice_replies_key(platform, chat_id))

    async def bridge_agent_id(self) -> str | None:
        value = await self.redis.get(AGENT_KEY)
        return str(value) if value else None

    async def set_bridge_agent_id(self, agent_id: str | None) -> None:
        if agent_id is None:
            await self.redis.delete(AGENT_KEY)
        else:
            await self.redis.set(AGENT_KEY, agent_id)
