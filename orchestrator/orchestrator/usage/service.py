"""Usage reporting for the dashboard: recent events and per-model sums over a day, week or month."""

from datetime import UTC, datetime, timedelta

from nova_contracts.llm import UsageRecord
from nova_contracts.orchestrator import (
    UsageByModel,
    UsageEvent,
    UsageEventRecorded,
    UsageEventReport,
    UsagePeriod,
    UsageSummary,
)
from orchestrator.usage.repository import UsageRepository

PERIODS = {
    UsagePeriod.DAY: timedelta(days=1),
    UsagePeriod.WEEK: timedelta(days=7),
    UsagePeriod.MONTH: timedelta(days=30),
}


class UsageService:
    def __init__(self, repository: UsageRepository) -> None:
        self.repository = repository

    async def recent(
        self, *, limit: int, offset: int, model: str | None, since: datetime | None
    ) -> list[UsageEvent]:
        rows = await self.repository.recent(limit=limit, offset=offset, model=model, since=since)
        return [UsageEvent.model_validate(dict(r)) for r in rows]

    async def record(self, report: UsageEventReport) -> UsageEventRecorded:
        """Store a model call another service made outside the gateway, once per id."""
        values = report.model_dump(exclude_none=True, exclude={"api_key_id"})
        record = UsageRecord.model_validate(
            {**values, "api_key_id": str(report.api_key_id) if report.api_key_id else None}
        )
        inserted = await self.repository.insert_many([(record, report.api_key_id)])
        return UsageEventRecorded(id=record.id, recorded=inserted == 1)

    async def summary(self, period: UsagePeriod) -> UsageSummary:
        until = datetime.now(UTC)
        since = until - PERIODS[period]
        models = [UsageByModel.model_validate(dict(r)) for r in await self.repository.by_model(since, until)]
        costs = [m.cost_usd for m in models if m.cost_usd is not None]
        return UsageSummary(
            period=period,
            since=since,
            until=until,
            requests=sum(m.requests for m in models),
            input_tokens=sum(m.input_tokens for m in models),
            output_tokens=sum(m.output_tokens for m in models),
            cost_usd=round(sum(costs), 8) if costs else None,
            by_model=models,
        )
