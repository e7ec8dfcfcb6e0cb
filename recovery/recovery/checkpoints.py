"""Scheduled checkpoints: a backup every N hours, pruned to the last K plus one a day for D days.

The schedule lives in Redis DB 7 so the admin can change it at run time; when the last checkpoint ran is
read from the archives themselves, so a restart neither skips nor doubles one. Only scheduled archives are
pruned: manual backups and the safety copies taken before a restore or reset are the admin's to delete.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
import structlog

from nova_common.errors import Conflict
from nova_contracts.recovery import BackupInfo, BackupReason, CheckpointSchedule, CheckpointScheduleUpdate
from recovery.backups.service import BackupService

log = structlog.get_logger("recovery.checkpoints")

SCHEDULE_KEY = "nova:recovery:checkpoints"


def checkpoints_to_prune(
    checkpoints: list[BackupInfo], schedule: CheckpointSchedule, now: datetime
) -> list[str]:
    """Names of scheduled archives beyond the last `keep_last` and the newest one of each of the last days."""
    newest_first = sorted(checkpoints, key=lambda b: b.created_at, reverse=True)
    keep = {b.name for b in newest_first[: schedule.keep_last]}
    days_seen: set[str] = set()
    horizon = now - timedelta(days=schedule.keep_daily_days)
    for backup in newest_first:
        day = backup.created_at.astimezone(UTC).date().isoformat()
        if backup.created_at >= horizon and day not in days_seen:
            days_seen.add(day)
            keep.add(backup.name)
    return [b.name for b in newest_first if b.name not in keep]


@dataclass
class Checkpoints:
    redis: aioredis.Redis
    backups: BackupService

    async def schedule(self) -> CheckpointSchedule:
        raw = await self.redis.get(SCHEDULE_KEY)
        schedule = CheckpointSchedule.model_validate(json.loads(raw)) if raw else CheckpointSchedule()
        last = await self._last_checkpoint()
        schedule.last_run_at = last.created_at if last else None
        if schedule.enabled:
            schedule.next_run_at = (last.created_at if last else datetime.now(UTC)) + timedelta(
                hours=schedule.interval_hours
            )
            if last is None:
                schedule.next_run_at = None  # due now: the loop takes the first one at its next check
        return schedule

    async def update(self, change: CheckpointScheduleUpdate) -> CheckpointSchedule:
        current = await self.schedule()
        merged = current.model_copy(update=change.model_dump(exclude_none=True))
        stored = merged.model_dump(mode="json", exclude={"last_run_at", "next_run_at"})
        await self.redis.set(SCHEDULE_KEY, json.dumps(stored))
        return await self.schedule()

    async def _scheduled(self) -> list[BackupInfo]:
        return [b for b in (await self.backups.list_backups()).backups if b.reason is BackupReason.SCHEDULED]

    async def _last_checkpoint(self) -> BackupInfo | None:
        scheduled = await self._scheduled()
        return max(scheduled, key=lambda b: b.created_at) if scheduled else None

    async def tick(self) -> None:
        """One check of the background loop: take a checkpoint when one is due."""
        schedule = await self.schedule()
        if not schedule.enabled:
            return
        if schedule.next_run_at is None or schedule.next_run_at <= datetime.now(UTC):
            await self.run_checkpoint()

    async def run_checkpoint(self) -> BackupInfo | None:
        try:
            info = await self.backups.create(BackupReason.SCHEDULED)
        except Conflict:
            log.info("checkpoint_skipped", reason="another recovery operation is running")
            return None
        schedule = await self.schedule()
        for name in checkpoints_to_prune(await self._scheduled(), schedule, datetime.now(UTC)):
            await self.backups.delete(name)
            log.info("checkpoint_pruned", name=name)
        return info
