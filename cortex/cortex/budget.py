"""Today's budget: spend since UTC midnight against CORTEX_DAILY_BUDGET_USD gives a tier, which cortex
publishes where llm-gateway reads its runtime config (DB 1), so the gateway can hold cortex to it."""

from datetime import UTC, datetime

import redis.asyncio as aioredis

from nova_contracts.cortex import BUDGET_TIER_CONFIG_KEY, BudgetStatus, BudgetTier, DailySpend
from nova_contracts.orchestrator import config_redis_key, encode_config_value


def tier_for(spend: float, budget: float) -> BudgetTier:
    """best below 50 % of the budget, mid to 80 %, cheap to 100 %, none from 100 % (a zero budget: none)."""
    if budget <= 0:
        return BudgetTier.NONE
    used = spend / budget
    if used >= 1.0:
        return BudgetTier.NONE
    if used >= 0.8:
        return BudgetTier.CHEAP
    if used >= 0.5:
        return BudgetTier.MID
    return BudgetTier.BEST


def budget_status(spend: DailySpend, budget: float) -> BudgetStatus:
    return BudgetStatus(
        daily_budget_usd=budget,
        daily_spend_usd=round(spend.spend_usd, 6),
        remaining_usd=round(max(budget - spend.spend_usd, 0.0), 6),
        percent_used=round(100 * spend.spend_usd / budget, 2) if budget > 0 else 100.0,
        tier=tier_for(spend.spend_usd, budget),
        checked_at=datetime.now(UTC),
    )


async def publish_tier(config_redis: aioredis.Redis, tier: BudgetTier) -> None:
    # No expiry: a tier that vanished when cortex stopped would lift the limit it stands for.
    await config_redis.set(config_redis_key(BUDGET_TIER_CONFIG_KEY), encode_config_value(tier.value))
