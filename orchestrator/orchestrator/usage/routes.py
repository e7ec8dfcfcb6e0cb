"""Usage for the dashboard (admin)."""

from datetime import datetime

from fastapi import APIRouter, Query

from nova_common.auth import AdminAuth
from nova_contracts.orchestrator import UsageEvent, UsagePeriod, UsageSummary
from orchestrator.deps import MAX_PAGE_SIZE, UsageServiceDep

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])


@router.get("", response_model=list[UsageEvent])
async def list_usage(
    _: AdminAuth,
    usage: UsageServiceDep,
    limit: int = Query(default=50, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(default=0, ge=0),
    model: str | None = Query(default=None, max_length=200),
    since: datetime | None = Query(default=None),
) -> list[UsageEvent]:
    """Recent model calls, newest first, with the API key that caused them."""
    return await usage.recent(limit=limit, offset=offset, model=model, since=since)


@router.get("/summary", response_model=UsageSummary)
async def summarize_usage(
    _: AdminAuth, usage: UsageServiceDep, period: UsagePeriod = Query(default=UsagePeriod.DAY)
) -> UsageSummary:
    """Requests, tokens and cost over the last day, week or month, by model."""
    return await usage.summary(period)
