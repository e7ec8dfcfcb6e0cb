"""Persist the gateway's usage stream (`nova:usage:events`, Redis DB 1) into `usage_events`.

A consumer group delivers each entry to one orchestrator process; an entry is acknowledged only after the
transaction holding its row commits, and rows are keyed by the record's own id, so a crash between commit
and ack replays the entry harmlessly. On start each consumer re-reads its own unacknowledged entries, then
claims entries another consumer left pending for a minute (a process that died).
"""

import os
import socket
import uuid
from typing import Any, cast

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError
from redis.exceptions import ResponseError

from nova_contracts.llm import UsageRecord
from orchestrator.usage.repository import UsageRepository

log = structlog.get_logger("orchestrator.usage")

BATCH = 100
CLAIM_IDLE_MS = 60_000
# The gateway writes the UsageRecord JSON in this field; other field names are accepted for robustness.
RECORD_FIELD = "record"


def parse_entry(fields: dict[str, str]) -> UsageRecord | None:
    candidates = [fields[RECORD_FIELD]] if RECORD_FIELD in fields else list(fields.values())
    for raw in candidates:
        try:
            return UsageRecord.model_validate_json(raw)
        except ValidationError:
            continue
    return None


def _api_key_id(record: UsageRecord) -> uuid.UUID | None:
    try:
        return uuid.UUID(record.api_key_id) if record.api_key_id else None
    except ValueError:
        return None


class UsageConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        repository: UsageRepository,
        *,
        stream: str,
        group: str,
        block_ms: int,
        consumer: str | None = None,
    ) -> None:
        self.redis = redis
        self.repository = repository
        self.stream = stream
        self.group = group
        self.block_ms = block_ms
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._group_ready = False
        self._own_backlog_done = False

    async def ensure_group(self) -> None:
        try:
            # From the start of the stream: records written before the first orchestrator ran are kept too.
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _persist(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        if not entries:
            return 0
        records: list[tuple[UsageRecord, Any]] = []
        for entry_id, fields in entries:
            record = parse_entry(fields)
            if record is None:
                # Acknowledged with the rest: an unreadable entry would otherwise be retried forever.
                log.warning("usage_entry_unreadable", entry_id=entry_id, fields=list(fields))
                continue
            records.append((record, _api_key_id(record)))
        inserted = await self.repository.insert_many(records)
        await self.redis.xack(self.stream, self.group, *[entry_id for entry_id, _ in entries])
        return inserted

    async def consume_once(self) -> int:
        """One batch: own pending entries first, then abandoned ones, then new ones (blocking)."""
        if not self._group_ready:
            await self.ensure_group()
        if not self._own_backlog_done:
            pending = await self._read("0", block=None)
            if not pending:
                self._own_backlog_done = True
            return await self._persist(pending)
        claimed = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0", count=BATCH
        )
        abandoned = [(i, f) for i, f in claimed[1] if f]
        if abandoned:
            return await self._persist(abandoned)
        return await self._persist(await self._read(">", block=self.block_ms))

    async def _read(self, start: str, *, block: int | None) -> list[tuple[str, dict[str, str]]]:
        try:
            response = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream: start}, count=BATCH, block=block
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                # The stream or group was deleted (a Redis flush): recreate and go on.
                self._group_ready = False
                return []
            raise
        if not response:
            return []
        _, entries = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], response)[0]
        return [(entry_id, fields) for entry_id, fields in entries if fields]
