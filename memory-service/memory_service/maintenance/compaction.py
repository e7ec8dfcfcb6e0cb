"""Compaction: near-duplicate memories (cosine ≥ threshold, same tier, agent and project) become one.

The survivor is the most confident (then the most accessed, then the oldest); it takes the union of the
group's metadata (its own values win on a clash), the sum of their access counts, and a `memory_merges`
row per absorbed memory with its full content. Each run looks at memories embedded since the previous
run (at most `batch_size`), so a large store is covered incrementally rather than rescanned hourly.
"""

import uuid
from typing import Any

from memory_service.db.engine import Sessions
from memory_service.db.models import MemoryRow
from memory_service.embeddings.service import MemoryEmbedder
from memory_service.maintenance import repository
from memory_service.memories.repository import set_access


class _Groups:
    """Union-find over memory ids, remembering the best similarity that joined each member."""

    def __init__(self) -> None:
        self.parent: dict[uuid.UUID, uuid.UUID] = {}
        self.similarity: dict[uuid.UUID, float] = {}

    def find(self, x: uuid.UUID) -> uuid.UUID:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: uuid.UUID, b: uuid.UUID, similarity: float) -> None:
        self.parent[self.find(a)] = self.find(b)
        for member in (a, b):
            self.similarity[member] = max(self.similarity.get(member, 0.0), similarity)

    def groups(self) -> list[list[uuid.UUID]]:
        by_root: dict[uuid.UUID, list[uuid.UUID]] = {}
        for member in self.parent:
            by_root.setdefault(self.find(member), []).append(member)
        return [sorted(g) for g in by_root.values() if len(g) > 1]


def _survivor(rows: list[MemoryRow]) -> MemoryRow:
    def rank(row: MemoryRow) -> tuple[float, int, float]:
        accesses = row.access.access_count if row.access else 0
        return (row.confidence, accesses, -row.created_at.timestamp())

    return max(rows, key=rank)


class Compactor:
    def __init__(
        self, sessions: Sessions, embeddings: MemoryEmbedder, *, similarity: float, batch_size: int
    ) -> None:
        self.sessions = sessions
        self.embeddings = embeddings
        self.similarity = similarity
        self.batch_size = batch_size
        self.watermark: repository.Watermark | None = None

    async def run_once(self) -> dict[str, Any]:
        target = self.embeddings.target
        if target is None:
            return {"scanned": 0, "merged": 0, "skipped": "no embedding model known yet"}
        async with self.sessions.begin() as session:
            batch = await repository.recently_embedded(session, target, self.watermark, self.batch_size)
            pairs = await repository.near_duplicates(session, target, [i for _, i in batch], self.similarity)
            groups = _Groups()
            for pair in pairs:
                groups.union(pair.a, pair.b, pair.similarity)
            merged = 0
            for group in groups.groups():
                merged += await self._merge(session, group, groups.similarity)
        if batch:
            self.watermark = batch[-1]
        return {
            "scanned": len(batch),
            "groups": len(groups.groups()),
            "merged": merged,
            "more": len(batch) == self.batch_size,
        }

    async def _merge(self, session: Any, group: list[uuid.UUID], similarity: dict[uuid.UUID, float]) -> int:
        rows = await repository.lock_memories(session, group)
        if len(rows) < 2:
            return 0
        keep = _survivor(rows)
        absorbed = [r for r in rows if r.id != keep.id]
        metadata: dict[str, Any] = {}
        for row in absorbed:
            metadata.update(row.metadata_)
        metadata.update(keep.metadata_)
        accesses = [r.access for r in rows if r.access is not None]
        for row in absorbed:
            await repository.record_merge(session, keep, row, similarity.get(row.id, self.similarity))
        await repository.set_metadata(session, keep.id, metadata)
        if accesses:
            await set_access(
                session,
                keep.id,
                sum(a.access_count for a in accesses),
                max(a.last_accessed_at for a in accesses),
            )
        await repository.delete_memories(session, [r.id for r in absorbed])
        return len(absorbed)
