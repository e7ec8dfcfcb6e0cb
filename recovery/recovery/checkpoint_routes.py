"""Checkpoint schedule routes."""

from fastapi import APIRouter, Request

from nova_common.auth import AdminAuth
from nova_contracts.recovery import CheckpointSchedule, CheckpointScheduleUpdate
from recovery.checkpoints import Checkpoints

router = APIRouter(prefix="/api/v1/recovery/checkpoints", tags=["checkpoints"])


def _checkpoints(request: Request) -> Checkpoints:
    checkpoints: Checkpoints = request.app.state.checkpoints
    return checkpoints


@router.get("", response_model=CheckpointSchedule)
async def get_checkpoint_schedule(_: AdminAuth, request: Request) -> CheckpointSchedule:
    """The checkpoint schedule, with when the last one ran and the next is due."""
    return await _checkpoints(request).schedule()


@router.patch("", response_model=CheckpointSchedule)
async def update_checkpoint_schedule(
    _: AdminAuth, body: CheckpointScheduleUpdate, request: Request
) -> CheckpointSchedule:
    """Change the interval, retention or switch checkpoints off; takes effect at the loop's next check."""
    return await _checkpoints(request).update(body)
