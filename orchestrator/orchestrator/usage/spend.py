"""Today's spend for cortex's budget: the cost of every recorded model call since UTC midnight."""

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from nova_common.auth import ServiceAuth
from nova_contracts.cortex import DailySpend, UtcInstant

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])


class SpendRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def since(self, start: datetime) -> tuple[float, int]:
        row = await self.pool.fetchrow(
            "SELECT COALESCE(sum(cost_usd), 0) AS spend, count(*) AS events FROM usage_events WHERE created_at >= $1",
            start,
        )
        assert row is not None
        return float(row["spend"]), int(row["events"])


async def get_spend(request: Request) -> SpendRepository:  # async: no thread hop per request
    return SpendRepository(request.app.state.resources.pg)


def utc_midnight(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@router.get("/spend", response_model=DailySpend)
async def get_daily_spend(
    _: ServiceAuth,
    spend: Annotated[SpendRepository, Depends(get_spend)],
    since: Annotated[UtcInstant | None, Query(description="default: today's UTC midnight")] = None,
) -> DailySpend:
    """For cortex: the cost of every model call since `since` (default: today, UTC)."""
    start = since or utc_midnight(datetime.now(UTC))
    total, events = await spend.since(start)
    return DailySpend(since=start, spend_usd=total, events=events)
