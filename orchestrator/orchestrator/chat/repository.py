"""SQL for dashboard conversations and their messages."""

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

_SUMMARY = """
    SELECT c.id, c.session_id, c.title, c.agent_id, c.created_at, c.updated_at, c.last_message_at,
           c.owner_kind, c.api_key_id,
           (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
    FROM conversations c
"""


def _conversation(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    key_id = row["api_key_id"]
    return {**dict(row), "id": str(row["id"]), "api_key_id": str(key_id) if key_id else None}


def _message(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    return {**dict(row), "id": str(row["id"]), "metadata": json.loads(row["metadata"])}


@dataclass(frozen=True)
class OpenedSession:
    """A session's conversation; `user_message` is set when this request started it with that message."""

    conversation: dict[str, Any]
    user_message: dict[str, Any] | None


class ConversationRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def by_session(self, session_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(_SUMMARY + " WHERE c.session_id = $1", session_id)
        return _conversation(row) if row else None

    async def get(self, conversation_id: UUID) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(_SUMMARY + " WHERE c.id = $1", conversation_id)
        return _conversation(row) if row else None

    async def open_session(
        self,
        conversation_id: UUID,
        *,
        session_id: str | None,
        agent_id: str,
        owner_kind: str,
        api_key_id: str | None,
        content: str,
        title: str | None,
    ) -> "OpenedSession | None":
        """The session's conversation as it stands, or, when there is none, a new one (`conversation_id`) with
        its first message, the user's: one statement, so one round trip (and one commit for a new conversation's
        two rows) whichever it is. An existing conversation is returned untouched, its message not written:
        the caller checks who may write there and takes its lock first. None when the session was started by
        another request at this moment (it answers in it)."""
        row = await self.pool.fetchrow(
            """WITH existing AS (
                 SELECT c.id, c.session_id, c.title, c.agent_id, c.created_at, c.updated_at,
                        c.last_message_at, c.owner_kind, c.api_key_id,
                        (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
                 FROM conversations c WHERE c.session_id = $2
               ), stamp AS (SELECT clock_timestamp() AS at),
               new AS (
                 INSERT INTO conversations AS c
                   (id, session_id, agent_id, owner_kind, api_key_id, title, last_message_at)
                 SELECT $1::uuid, COALESCE($2, $1::uuid::text), $3, $4, $5::uuid, $7, stamp.at FROM stamp
                 WHERE NOT EXISTS (SELECT 1 FROM existing)
                 ON CONFLICT (session_id) DO NOTHING
                 RETURNING c.id, c.session_id, c.title, c.agent_id, c.created_at, c.updated_at,
                           c.last_message_at, c.owner_kind, c.api_key_id
               ), added AS (
                 INSERT INTO messages (conversation_id, role, content, created_at)
                 SELECT new.id, 'user', $6, stamp.at FROM new, stamp
                 RETURNING id, role, content, model, metadata::text AS metadata, created_at
               )
               SELECT existing.*, NULL::uuid AS message_id, NULL::text AS role, NULL::text AS content,
                      NULL::text AS model, NULL::text AS metadata, NULL::timestamptz AS message_created_at
               FROM existing
               UNION ALL
               SELECT new.*, 1::bigint, added.id, added.role, added.content, added.model, added.metadata,
                      added.created_at
               FROM new, added""",
            conversation_id,
            session_id,
            agent_id,
            owner_kind,
            api_key_id,
            content,
            title,
        )
        if row is None:
            return None
        fields = dict(row)
        message = {
            "id": fields.pop("message_id"),
            **{name: fields.pop(name) for name in ("role", "content", "model", "metadata")},
            "created_at": fields.pop("message_created_at"),
        }
        if message["id"] is None:
            return OpenedSession(conversation=_conversation(fields), user_message=None)
        return OpenedSession(conversation=_conversation(fields), user_message=_message(message))

    async def recent(
        self, *, limit: int, offset: int, owner: tuple[str | None, str | None] = (None, None)
    ) -> list[dict[str, Any]]:
        """`owner` is `(owner_kind, api_key_id)`, or `(None, None)` for every owner's conversations."""
        rows = await self.pool.fetch(
            _SUMMARY
            + """ WHERE ($3::text IS NULL OR (c.owner_kind = $3 AND c.api_key_id IS NOT DISTINCT FROM $4::uuid))
                  ORDER BY COALESCE(c.last_message_at, c.created_at) DESC LIMIT $1 OFFSET $2""",
            limit,
            offset,
            *owner,
        )
        return [_conversation(r) for r in rows]

    async def rename(self, conversation_id: UUID, title: str) -> bool:
        status = await self.pool.execute(
            "UPDATE conversations SET title = $2, updated_at = now() WHERE id = $1", conversation_id, title
        )
        return status.endswith(" 1")

    async def delete(self, conversation_id: UUID) -> bool:
        status = await self.pool.execute("DELETE FROM conversations WHERE id = $1", conversation_id)
        return status.endswith(" 1")

    async def add_message(
        self,
        conversation_id: UUID,
        *,
        role: str,
        content: str,
        model: str | None = None,
        metadata: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        # One statement, so one round trip and atomic: the message and its conversation's timestamps.
        row = await self.pool.fetchrow(
            """WITH added AS (
                 INSERT INTO messages (conversation_id, role, content, model, metadata)
                 VALUES ($1, $2, $3, $4, $5::jsonb)
                 RETURNING id, role, content, model, metadata::text AS metadata, created_at
               ), touched AS (
                 UPDATE conversations c SET last_message_at = added.created_at, updated_at = now(),
                        title = COALESCE(c.title, $6)
                 FROM added WHERE c.id = $1
               )
               SELECT * FROM added""",
            conversation_id,
            role,
            content,
            model,
            json.dumps(metadata or {}, default=str),
            title,
        )
        assert row is not None
        return _message(row)

    async def messages(self, conversation_id: UUID, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """The latest `limit` messages after skipping the `offset` newest, oldest first."""
        rows = await self.pool.fetch(
            """SELECT * FROM (
                 SELECT id, role, content, model, metadata::text AS metadata, created_at FROM messages
                 WHERE conversation_id = $1 ORDER BY created_at DESC LIMIT $2 OFFSET $3
               ) recent ORDER BY created_at""",
            conversation_id,
            limit,
            offset,
        )
        return [_message(r) for r in rows]
