"""Group commit for single submissions.

Each `POST /pipeline/tasks` alone costs a statement, a commit (a WAL flush) and the pool's reset round trip,
then a Redis push. Submissions that arrive while one group is being committed go out together as the next
group: one `insert_tasks` statement, one commit, one LPUSH. Each caller still gets its answer only after its
task is committed, and its id is pushed only after that commit, so nothing that was answered 202 can be lost
and nothing is pushed that a rollback undid. A submission that arrives when nothing is in flight goes out at
once, so an idle orchestrator adds no latency.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from orchestrator.pipeline.repository import NewTask, PipelineRepository

Announce = Callable[[list[uuid.UUID]], Awaitable[None]]


class SubmissionCommitter:
    def __init__(self, repository: PipelineRepository, announce: Announce, *, max_group: int = 256) -> None:
        self.repository = repository
        self.announce = announce
        self.max_group = max_group
        self._pending: list[tuple[NewTask, asyncio.Future[dict[str, Any]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def insert(self, task: NewTask) -> dict[str, Any]:
        """Persist `task` with the next group; the stored row once committed (and its id pushed)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((task, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="pipeline-submission-committer")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            group = [(t, f) for t, f in self._pending[: self.max_group] if not f.done()]
            del self._pending[: self.max_group]
            if group:
                await self._commit(group)

    async def _commit(self, group: list[tuple[NewTask, asyncio.Future[dict[str, Any]]]]) -> None:
        try:
            rows = await self.repository.insert_tasks([t for t, _ in group], on_committed=self.announce)
        except asyncpg.PostgresError as exc:
            if len(group) == 1:
                _fail(group, exc)
                return
            # One submission's error (a goal or pod deleted a moment ago) failed the whole group: commit each
            # alone, so only its own caller sees the error.
            for one in group:
                await self._commit([one])
            return
        except asyncio.CancelledError as exc:
            _fail(group, exc)
            raise
        except Exception as exc:
            _fail(group, exc)
            return
        for (_, future), row in zip(group, rows, strict=True):
            if not future.done():
                future.set_result(row)


def _fail(group: list[tuple[NewTask, asyncio.Future[dict[str, Any]]]], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
