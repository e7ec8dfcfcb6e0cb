"""cortex's budget tier as a ceiling on the models its own calls may use.

cortex publishes the tier of today's spend (`nova:config:cortex.budget_tier`) and marks its calls with
`X-Nova-Caller: cortex` (honoured only with the service token). Such a call never gets a cloud model above the
ceiling: best allows any model, mid mid and cheap ones, cheap only cheap ones, none no cloud model at all. The
local model costs nothing and stays allowed at every tier. A model's tier is the cheapest tier whose
preference list (routing/tiers.py) names it; a cloud model no list names has an unknown price and counts as
best. Without a published tier (cortex never ran, or its key expired) nothing is restricted: an outage of
cortex must not block anyone.
"""

from datetime import UTC, datetime, timedelta
from typing import Final

from llm_gateway.providers.transports import Target
from llm_gateway.routing.tiers import TIER_ORDER, TIER_PREFERENCES
from nova_common.errors import RateLimited
from nova_contracts.cortex import BudgetTier
from nova_contracts.llm import Tier

# The cheapest tier naming each model: gemini-2.5-flash is listed under mid and cheap, so cheap.
MODEL_TIERS: Final[dict[str, Tier]] = {model: tier for tier in TIER_ORDER for model in TIER_PREFERENCES[tier]}


def model_tier(gateway_model: str) -> Tier:
    """The tier of a cloud model id (`<provider>/<model>`); an unlisted one counts as best."""
    return MODEL_TIERS.get(gateway_model, "best")


def ceiling_of(budget: BudgetTier | None) -> Tier | None:
    """The most expensive tier allowed; None for no restriction. `none` has no tier and is handled apart."""
    if budget is BudgetTier.MID:
        return "mid"
    if budget is BudgetTier.CHEAP:
        return "cheap"
    return None


def within(target: Target, budget: BudgetTier) -> bool:
    """Whether `budget` lets cortex call `target`."""
    if target.is_local:
        return True
    if budget is BudgetTier.NONE:
        return False
    ceiling = ceiling_of(budget)
    return ceiling is None or tier_within(model_tier(target.gateway_model), ceiling)


def tier_within(tier: Tier, ceiling: Tier) -> bool:
    # TIER_ORDER runs from the most expensive tier to the cheapest.
    return TIER_ORDER.index(tier) >= TIER_ORDER.index(ceiling)


def seconds_until_utc_midnight(now: datetime | None = None) -> int:
    """When the daily spend (counted from UTC midnight) starts again from zero."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()))


def over_budget(budget: BudgetTier, why: str) -> RateLimited:
    if budget is BudgetTier.NONE:
        detail = (
            "cortex's daily budget (CORTEX_DAILY_BUDGET_USD) is used up: budget tier 'none' allows only the "
            f"local model until UTC midnight; {why}"
        )
    else:
        detail = (
            f"cortex's daily budget is at tier '{budget.value}': no model within that tier can serve this "
            f"request; {why}"
        )
    return RateLimited(detail, retry_after=seconds_until_utc_midnight())
