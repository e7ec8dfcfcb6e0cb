"""A background loop that runs one job every `interval` seconds, survives its failures and reports them."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from nova_common.lease import RedisLease

log = structlog.get_logger("memory_service.maintenance")

Job = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class RunStatus:
    runs: int = 0
    failures: int = 0
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_duration_ms: float | None = None
    last_result: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None


class PeriodicTask:
    """Runs `job` at start, then every `interval` seconds or as soon as `wake()` is called.

    A job that returns `{"more": True}` has work left and is run again straight away. An exception is
    logged and recorded, and the loop waits for the next tick as usual.
    """

    def __init__(self, name: str, interval: float, job: Job, *, lease: RedisLease | None = None) -> None:
        self.name = name
        self.interval = interval
        self.job = job
        # With several memory-service replicas, a job that must not run twice at once runs under a lease:
        # the replica that does not get it skips this tick.
        self.lease = lease
        self.status = RunStatus()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"maintenance:{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.status.runs += 1
        self.status.last_run_at = datetime.now(UTC)
        try:
            result = await self._run_job()
        except Exception as exc:
            self.status.failures += 1
            self.status.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("maintenance_run_failed", task=self.name, error=self.status.last_error)
            result = {}
        else:
            self.status.last_success_at = self.status.last_run_at
            self.status.last_result = result
            self.status.last_error = None
        self.status.last_duration_ms = round((time.perf_counter() - started) * 1000, 2)
        return result

    async def _run_job(self) -> dict[str, Any]:
        if self.lease is None:
            return await self.job()
        async with self.lease.holding() as held:
            return await self.job() if held else {"skipped": "another replica is running it"}

    async def _loop(self) -> None:
        while True:
            result = await self.run_once()
            if result.get("more"):
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass
            self._wake.clear()

    def details(self) -> dict[str, Any]:
        s = self.status
        return {
            "interval_seconds": self.interval,
            "runs": s.runs,
            "failures": s.failures,
            "last_run_at": s.last_run_at.isoformat() if s.last_run_at else None,
            "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
            "last_duration_ms": s.last_duration_ms,
            "last_result": s.last_result,
            "last_error": s.last_error,
        }
