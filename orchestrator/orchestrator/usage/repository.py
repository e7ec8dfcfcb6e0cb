"""SQL for `usage_events`: idempotent inserts keyed by the gateway's record id, listings and sums."""

from datetime import datetime
from typing import Any

import asyncpg

from nova_contracts.llm import UsageRecord


class UsageRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert_many(self, records: list[tuple[UsageRecord, Any]]) -> int:
        """Insert records in one transaction; a record already stored is skipped. Returns how many were new."""
        inserted = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for record, api_key_id in records:
                status = await conn.execute(
                    """INSERT INTO usage_events (id, provider, model, kind, input_tokens, output_tokens, cost_usd,
                                                 latency_ms, ttft_ms, cache_hit, agent_id, task_id, api_key_id,
                                                 created_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                       ON CONFLICT (id) DO NOTHING""",
                    record.id,
                    record.provider,
                    record.model,
                    record.kind,
                    record.input_tokens,
                    record.output_tokens,
                    record.cost_usd,
                    record.latency_ms,
                    record.ttft_ms,
                    record.cache_hit,
                    record.agent_id,
                    record.task_id,
                    api_key_id,
                    record.created_at,
                )
                inserted += status.endswith(" 1")
        return inserted

    async def recent(
        self, *, limit: int, offset: int, model: str | None, since: datetime | None
    ) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT u.*, u.cost_usd::float8 AS cost_usd, k.name AS api_key_name
                   FROM usage_events u LEFT JOIN api_keys k ON k.id = u.api_key_id
                   WHERE ($3::text IS NULL OR u.model = $3) AND ($4::timestamptz IS NULL OR u.created_at >= $4)
                   ORDER BY u.created_at DESC LIMIT $1 OFFSET $2""",
                limit,
                offset,
                model,
                since,
            )
        )

    async def by_model(self, since: datetime, until: datetime) -> list[asyncpg.Record]:
        return list(
            await self.pool.fetch(
                """SELECT model, provider, count(*) AS requests,
                          COALESCE(sum(input_tokens), 0)::bigint AS input_tokens,
                          COALESCE(sum(output_tokens), 0)::bigint AS output_tokens,
                          sum(cost_usd)::float8 AS cost_usd
                   FROM usage_events WHERE created_at >= $1 AND created_at < $2
                   GROUP BY model, provider ORDER BY sum(cost_usd) DESC NULLS LAST, count(*) DESC""",
                since,
                until,
            )
        )
