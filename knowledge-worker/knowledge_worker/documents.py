"""Where crawled documents go: memory-service's ingestion, only when their content hash changed since the
last crawl of the source (the hashes live in Redis DB 8, one hash per source)."""

import hashlib
from datetime import UTC, datetime
from uuid import UUID

import redis.asyncio as aioredis
import structlog

from nova_common.http import ServiceClient
from nova_contracts.memory import IngestRequest, SourceInfo, SourceKind

log = structlog.get_logger("knowledge_worker.documents")


def page_hashes_key(source_id: UUID) -> str:
    return f"nova:knowledge:page_hashes:{source_id}"


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()


class DocumentSink:
    def __init__(self, redis: aioredis.Redis, memory: ServiceClient | None) -> None:
        self.redis = redis
        self.memory = memory

    async def offer(
        self,
        source_id: UUID,
        *,
        uri: str,
        title: str,
        text: str,
        kind: SourceKind = SourceKind.CRAWL,
        author: str | None = None,
    ) -> bool:
        """Ingest the document if it is new or changed; True when it was ingested."""
        digest = content_hash(title, text)
        key = page_hashes_key(source_id)
        if await self.redis.hget(key, uri) == digest:
            return False
        if text.strip() and not await self._ingest(
            source_id, uri=uri, title=title, text=text, kind=kind, author=author
        ):
            return False  # memory did not take it: keep the old hash so the next crawl tries again
        await self.redis.hset(key, uri, digest)
        return True

    async def _ingest(
        self, source_id: UUID, *, uri: str, title: str, text: str, kind: SourceKind, author: str | None
    ) -> bool:
        if self.memory is None:
            return True
        request = IngestRequest(
            content=(f"{title}\n\n{text}" if title else text)[:50_000],
            source=SourceInfo(
                kind=kind,
                uri=uri[:2000],
                title=title[:200] or None,
                author=author[:200] if author else None,
                fetched_at=datetime.now(UTC),
            ),
            owner="admin",
            metadata={"knowledge_source_id": str(source_id)},
        )
        try:
            response = await self.memory.post(
                "/api/v1/memories/ingest",
                content=request.model_dump_json(exclude_none=True),
                headers={"Content-Type": "application/json"},
            )
        except Exception as exc:
            log.warning("memory_ingest_failed", uri=uri, error=str(exc))
            return False
        if response.status_code >= 300:
            log.warning(
                "memory_ingest_refused", uri=uri, status=response.status_code, body=response.text[:300]
            )
            return False
        return True
