"""`last_used_at` without a write on the request path: keys are noted in memory and flushed in batches."""

from uuid import UUID

from orchestrator.keys.repository import ApiKeyRepository


class KeyUsageTracker:
    def __init__(self, repository: ApiKeyRepository) -> None:
        self.repository = repository
        self._pending: set[UUID] = set()

    def touch(self, key_id: str) -> None:
        self._pending.add(UUID(key_id))

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, set()
        try:
            await self.repository.touch(batch)
        except Exception:
            # Keep them for the next flush rather than lose the timestamps.
            self._pending |= batch
            raise
