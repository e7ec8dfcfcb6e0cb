"""Keeps the document frequencies behind BM25 keyword ranking close to the memories they describe.

Each run compares (count, newest updated_at) of the memories with what the last snapshot was taken
of and rebuilds the snapshot only when they differ; one replica at a time. Between runs, a lexeme the
snapshot has not seen yet ranks as the rarest word, which only slightly favours the newest memories.
"""

from typing import Any

from memory_service.db.engine import Sessions
from memory_service.maintenance import repository


async def refresh_keyword_statistics(sessions: Sessions) -> dict[str, Any]:
    async with sessions.begin() as session:
        if not await repository.try_lock_keyword_statistics(session):
            return {"refreshed": False, "skipped": "another replica is refreshing"}
        current = await repository.memories_signature(session)
        if current == await repository.keyword_statistics_signature(session):
            return {"refreshed": False, "documents": current[0]}
        lexemes = await repository.rebuild_keyword_statistics(session, current)
    return {"refreshed": True, "documents": current[0], "lexemes": lexemes}
