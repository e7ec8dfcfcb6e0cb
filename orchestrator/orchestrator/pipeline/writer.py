"""Group commit for the workers' task writes.

Under load many stages finish at nearly the same moment, and each write alone would cost a round trip and a
commit (a WAL flush, the dominant cost on a slow disk). The writer sends the writes that arrive while one
batch is in flight as the next batch: one statement (`WRITE_SQL`, a row per write; a rendered example is in
`repository._write_sql`'s docstring, the whole text in `tests/snapshots/pipeline_write.sql`), one round trip and one
commit for all of them, each row still its own compare-and-set. A write that arrives when nothing is in flight goes out at once, so
batching adds no latency to an idle worker. The writer keeps one connection, so the pool's reset round trip
after every release is not paid per write either; one the server closed while idle is replaced before the next
batch, and one lost during a batch fails that batch without a retry (whether it committed is unknown; the reaper
re-queues those tasks). Progress events of a batch follow its commit, in order.
"""

import asyncio
import uuid
from typing import Any

import asyncpg
import structlog

from orchestrator.pipeline.events import ProgressPublisher
from orchestrator.pipeline.repository import FIXED_COLUMNS, WRITE_SQL, TaskWrite, task_dict, write_args

log = structlog.get_logger("orchestrator.pipeline.writer")

_Result = dict[str, Any] | None | BaseException
_CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, ConnectionError, OSError)


def _closed(conn: Any) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # the pool's proxy, detached once asyncpg saw the connection close
        return True


class TaskWriter:
    def __init__(self, pool: asyncpg.Pool, publisher: ProgressPublisher, *, max_batch: int = 256) -> None:
        self.pool = pool
        self.publisher = publisher
        self.max_batch = max_batch
        self._pending: list[tuple[TaskWrite, asyncio.Future[dict[str, Any] | None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._conn: Any = None

    async def write(self, change: TaskWrite) -> dict[str, Any] | None:
        """Apply `change` in the next batch; the new row without its `FIXED_COLUMNS` (the caller has them),
        or None when the row no longer matched."""
        change.check()  # an illegal transition raises here, in the caller, not in the batch
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._pending.append((change, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="pipeline-task-writer")
        # A caller cancelled before its batch goes out (an abandoned stage) cancels the future: it is skipped.
        return await future

    async def drain(self) -> None:
        """Until every write handed in so far is committed or has failed."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        await self._drop_connection()

    async def _flush(self) -> None:
        while self._pending:
            batch = self._next_batch()
            if not batch:
                continue
            try:
                results = await self._execute([change for change, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                results = [exc] * len(batch)
            published = [
                (change.task_id, change.current, change.hops)
                for (change, _), result in zip(batch, results, strict=True)
                if isinstance(result, dict) and change.hops
            ]
            if published:
                await self.publisher.publish_many(published)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _next_batch(self) -> list[tuple[TaskWrite, asyncio.Future[dict[str, Any] | None]]]:
        """The oldest pending writes, up to the batch size and at most one per task (rows are matched by id)."""
        batch: list[tuple[TaskWrite, asyncio.Future[dict[str, Any] | None]]] = []
        seen: set[uuid.UUID] = set()
        taken = 0
        for change, future in self._pending:
            if len(batch) == self.max_batch or change.task_id in seen:
                break
            taken += 1
            if future.done():
                continue  # its caller was cancelled before the write went out
            seen.add(change.task_id)
            batch.append((change, future))
        del self._pending[:taken]
        return batch

    async def _execute(self, changes: list[TaskWrite]) -> list[_Result]:
        conn = await self._connection()
        try:
            rows = await conn.fetch(WRITE_SQL, *write_args(changes))
        except _CONNECTION_LOST:
            await self._drop_connection()
            raise
        except asyncpg.PostgresError:
            if len(changes) == 1:
                raise
            # One write's error (a constraint, a deadlock) failed the whole statement: run each alone, so
            # only its own task sees the error.
            return [await self._execute_alone(conn, change) for change in changes]
        by_task = {row["id"]: row for row in rows}
        return [
            task_dict(by_task[c.task_id], without=FIXED_COLUMNS) if c.task_id in by_task else None
            for c in changes
        ]

    async def _execute_alone(self, conn: Any, change: TaskWrite) -> _Result:
        try:
            record = await conn.fetchrow(WRITE_SQL, *write_args([change]))
        except asyncpg.PostgresError as exc:
            return exc
        return task_dict(record, without=FIXED_COLUMNS) if record else None

    async def _connection(self) -> Any:
        if self._conn is not None and _closed(self._conn):
            # The server ended it while it sat idle between batches (a restore's `pg_terminate_backend`, a
            # restart, an idle timeout). Nothing was sent on it, so the batch goes out on a fresh one instead
            # of failing. Released all the same: asyncpg has usually handed it back already (then this is a
            # no-op), but after a protocol abort only the release returns its slot to the pool.
            log.info("task_writer_connection_replaced")
            await self._drop_connection()
        if self._conn is None:
            self._conn = await self.pool.acquire()
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self.pool.release(conn)
            except Exception:
                log.warning("task_writer_connection_not_released")
