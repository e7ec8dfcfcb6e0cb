"""SQL for the journal: one conversation with a fixed session id, and its messages."""

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg

# The dashboard lists conversations by session id; this one is the same on every Nova, so cortex and the
# dashboard find it without a lookup table, and it is recreated if the person deletes it.
JOURNAL_SESSION_ID = "nova-journal"
JOURNAL_TITLE = "Journal"


def _message(record: asyncpg.Record) -> dict[str, Any]:
    data = dict(record)
    if isinstance(data.get("metadata"), str):
        data["metadata"] = json.loads(data["metadata"])
    return data


class JournalRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def conversation_id(self) -> uuid.UUID:
        """The journal's conversation, created (owned by the admin) the first time it is needed."""
        row = await self.pool.fetchrow(
            """INSERT INTO conversations (session_id, title, owner_kind) VALUES ($1, $2, 'admin')
               ON CONFLICT (session_id) DO UPDATE SET title = conversations.title
               RETURNING id""",
            JOURNAL_SESSION_ID,
            JOURNAL_TITLE,
        )
        assert row is not None
        conversation: uuid.UUID = row["id"]
        return conversation

    async def append(
        self, conversation_id: uuid.UUID, role: str, content: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO messages (conversation_id, role, content, model, metadata)
                   VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING *""",
                conversation_id,
                role,
                content,
                "cortex" if role == "assistant" else None,
                json.dumps(metadata),
            )
            await conn.execute(
                "UPDATE conversations SET last_message_at = now(), updated_at = now() WHERE id = $1",
                conversation_id,
            )
        assert row is not None
        return _message(row)

    async def entries(
        self,
        conversation_id: uuid.UUID,
        *,
        role: str | None,
        since: datetime | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """Newest first; with `since`, only what was written after it."""
        rows = await self.pool.fetch(
            """SELECT * FROM messages
               WHERE conversation_id = $1 AND role IN ('user', 'assistant')
                 AND ($2::text IS NULL OR role = $2) AND ($3::timestamptz IS NULL OR created_at > $3)
               ORDER BY created_at DESC LIMIT $4 OFFSET $5""",
            conversation_id,
            role,
            since,
            limit,
            offset,
        )
        return [_message(r) for r in rows]
