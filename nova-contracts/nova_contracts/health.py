"""Health probes: `/health/live`, `/health/ready`, and the stack overview served by recovery."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from nova_contracts.base import ResponseModel, utc_now


class CheckStatus(StrEnum):
    OK = "ok"
    DOWN = "down"


class DependencyCheck(ResponseModel):
    """One dependency of a service (postgres, redis, another service) as seen by its readiness probe."""

    name: str
    status: CheckStatus
    required: bool = True
    latency_ms: float | None = Field(default=None, ge=0)
    detail: str | None = None


class Liveness(ResponseModel):
    service: str
    status: str = "alive"
    version: str
    uptime_seconds: float = Field(ge=0)


class ReadinessStatus(StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"


class Readiness(ResponseModel):
    """Readiness of one service: `not_ready` (served with HTTP 503) when a required dependency is down."""

    service: str
    status: ReadinessStatus
    version: str
    checks: list[DependencyCheck] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    checked_at: datetime = Field(default_factory=utc_now)

    @property
    def failing(self) -> list[DependencyCheck]:
        return [c for c in self.checks if c.required and c.status is CheckStatus.DOWN]


class ServiceState(StrEnum):
    READY = "ready"
    NOT_READY = "not_ready"
    DOWN = "down"
    DISABLED = "disabled"


class ServiceStatus(ResponseModel):
    """One service of the stack as recovery sees it."""

    name: str
    url: str
    port: int = Field(ge=1, le=65535)
    profile: str | None = None
    state: ServiceState
    latency_ms: float | None = Field(default=None, ge=0)
    detail: str | None = None
    checks: list[DependencyCheck] = Field(default_factory=list)


class ServicesOverview(ResponseModel):
    services: list[ServiceStatus]
    ready: int = Field(ge=0)
    total: int = Field(ge=0)
    checked_at: datetime = Field(default_factory=utc_now)
