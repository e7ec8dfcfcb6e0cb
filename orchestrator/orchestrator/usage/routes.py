"""Usage for the dashboard (admin), and usage reported by services that call models outside the gateway."""

from datetime import datetime

from fastapi import APIRouter, Query, status

from nova_common.auth import AdminAuth, ServiceAuth
from nova_contracts.orchestrator import (
    UsageEvent,
    UsageEventRecorded,
    UsageEventReport,
    UsagePeriod,
    UsageSummary,
)
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


@router.post("/events", response_model=UsageEventRecorded, status_code=status.HTTP_201_CREATED)
async def record_usage_event(
    _: ServiceAuth, body: UsageEventReport, usage: UsageServiceDep
) -> UsageEventRecorded:
    """Record a model call made outside llm-gateway (service token); a repeated `id` is stored once."""
    return await usage.record(body)
