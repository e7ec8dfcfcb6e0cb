"""Journal rules: cortex narrates as the assistant, the person writes as the user, and what the person
writes wakes cortex (a `message.received` stimulus) instead of starting an agent turn."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from nova_contracts.cortex import (
    JournalEntry,
    JournalEntryCreate,
    JournalEntryKind,
    JournalMessageCreate,
    JournalPage,
)
from nova_contracts.goals import StimulusType
from orchestrator.journal.repository import JournalRepository

Notify = Callable[..., Awaitable[None]]


def _entry(row: dict[str, Any]) -> JournalEntry:
    metadata = dict(row["metadata"] or {})
    kind = metadata.pop("kind", None) or (
        JournalEntryKind.MESSAGE if row["role"] == "user" else JournalEntryKind.NARRATION
    )
    goal_id = metadata.pop("goal_id", None)
    return JournalEntry(
        id=row["id"],
        role=row["role"],
        kind=kind,
        content=row["content"],
        goal_id=goal_id,
        metadata=metadata,
        created_at=row["created_at"],
    )


class JournalService:
    def __init__(self, repository: JournalRepository, notify: Notify) -> None:
        self.repository = repository
        self.notify = notify

    async def narrate(self, body: JournalEntryCreate) -> JournalEntry:
        conversation = await self.repository.conversation_id()
        metadata = {**body.metadata, "kind": body.kind.value}
        if body.goal_id is not None:
            metadata["goal_id"] = str(body.goal_id)
        return _entry(await self.repository.append(conversation, "assistant", body.content, metadata))

    async def write(self, body: JournalMessageCreate) -> JournalEntry:
        conversation = await self.repository.conversation_id()
        row = await self.repository.append(
            conversation, "user", body.content, {"kind": JournalEntryKind.MESSAGE.value}
        )
        await self.notify(StimulusType.MESSAGE_RECEIVED, None, message_id=str(row["id"]))
        return _entry(row)

    async def read(self, *, role: str | None, since: datetime | None, limit: int, offset: int) -> JournalPage:
        conversation: uuid.UUID = await self.repository.conversation_id()
        rows = await self.repository.entries(conversation, role=role, since=since, limit=limit, offset=offset)
        return JournalPage(conversation_id=conversation, items=[_entry(r) for r in rows])
