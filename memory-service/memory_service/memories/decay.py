"""ACT-R base-level decay of a fact's confidence: `effective = base * days_since_access ^ -d`.

Days are clamped to at least 1, so a fact accessed today keeps its full confidence (and the power law
never divides by zero). Only semantic memories (facts) decay; other tiers keep their stated confidence.
The same rule is written twice, in SQL for ranking and in Python for responses, and kept side by side.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Float, case, func
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

SECONDS_PER_DAY = 86_400.0
Column = ColumnElement[Any] | QueryableAttribute[Any]
DECAYING_TIER = "semantic"


def effective_confidence(
    tier: str, confidence: float, last_access: datetime, now: datetime, exponent: float
) -> float:
    if tier != DECAYING_TIER:
        return confidence
    days = max((now - last_access).total_seconds() / SECONDS_PER_DAY, 1.0)
    return float(confidence * days**-exponent)


def effective_confidence_sql(
    exponent: float,
    *,
    tier: Column,
    confidence: Column,
    created_at: Column,
    last_accessed_at: Column,
) -> ColumnElement[Any]:
    """Of a memory's columns as a query read them (`last_accessed_at` is NULL if it was never accessed)."""
    last_access = func.coalesce(last_accessed_at, created_at)
    days = func.greatest(func.extract("epoch", func.now() - last_access) / SECONDS_PER_DAY, 1.0)
    decayed = confidence * func.power(days, -exponent)
    return case((tier == DECAYING_TIER, decayed), else_=confidence).cast(Float)
