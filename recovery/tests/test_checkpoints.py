"""Scheduled checkpoints: runtime schedule, a checkpoint when due, retention of last K and daily for D days."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from nova_contracts.recovery import BackupInfo, BackupReason, CheckpointSchedule
from recovery.checkpoints import checkpoints_to_prune

CHECKPOINTS = "/api/v1/recovery/checkpoints"


def _info(name: str, created_at: datetime) -> BackupInfo:
    return BackupInfo(
        name=name,
        size_bytes=1,
        created_at=created_at,
        reason=BackupReason.SCHEDULED,
        nova_version="0",
        tables=0,
        rows=0,
        redis_keys=0,
        workspace_files=0,
        env_included=False,
    )


def test_retention_keeps_the_last_k_and_the_newest_of_each_recent_day() -> None:
    now = datetime(2026, 12, 10, 12, tzinfo=UTC)
    # Four a day (every 6 hours) for ten days.
    infos = [_info(f"b{i}", now - timedelta(hours=6 * i)) for i in range(40)]
    pruned = set(checkpoints_to_prune(infos, CheckpointSchedule(keep_last=3, keep_daily_days=4), now))
    kept = [i for i in infos if i.name not in pruned]
    assert [i.name for i in kept[:3]] == ["b0", "b1", "b2"]
    days = {i.created_at.date() for i in kept}
    assert days == {(now - timedelta(days=d)).date() for d in range(5)}
    assert len(kept) == 3 + 4  # today's is among the last three; the newest of each of the four days before


def test_schedule_changes_at_runtime_and_is_validated(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get(CHECKPOINTS).status_code == 401
    default = client.get(CHECKPOINTS, headers=admin).json()
    assert default["enabled"] is True and default["last_run_at"] is None
    changed = client.patch(CHECKPOINTS, headers=admin, json={"interval_hours": 12, "keep_last": 2})
    assert changed.status_code == 200
    assert changed.json()["interval_hours"] == 12 and changed.json()["keep_last"] == 2
    assert client.get(CHECKPOINTS, headers=admin).json()["keep_last"] == 2
    assert client.patch(CHECKPOINTS, headers=admin, json={"interval_hours": 0}).status_code == 422
    assert client.patch(CHECKPOINTS, headers=admin, json={"nonsense": 1}).status_code == 422


def test_due_checkpoint_is_taken_and_old_ones_are_pruned_to_keep_last(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.patch(CHECKPOINTS, headers=admin, json={"keep_last": 2, "keep_daily_days": 0})
    checkpoints = client.app.state.checkpoints  # type: ignore[attr-defined]
    portal = client.portal  # type: ignore[attr-defined]
    portal.call(checkpoints.tick)  # none yet: due now
    schedule = client.get(CHECKPOINTS, headers=admin).json()
    assert schedule["last_run_at"] is not None and schedule["next_run_at"] is not None
    portal.call(checkpoints.tick)  # not due again for 6 hours
    assert len(client.get("/api/v1/recovery/backups", headers=admin).json()["backups"]) == 1
    for _ in range(2):
        portal.call(checkpoints.run_checkpoint)
    backups = client.get("/api/v1/recovery/backups", headers=admin).json()["backups"]
    assert [b["reason"] for b in backups] == ["scheduled", "scheduled"]


def test_disabled_schedule_takes_no_checkpoint(client: TestClient, admin: dict[str, str]) -> None:
    client.patch(CHECKPOINTS, headers=admin, json={"enabled": False})
    client.portal.call(client.app.state.checkpoints.tick)  # type: ignore[attr-defined]
    assert client.get("/api/v1/recovery/backups", headers=admin).json()["backups"] == []
