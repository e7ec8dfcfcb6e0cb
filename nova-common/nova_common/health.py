"""`/health/live` and `/health/ready`, built from the checks each service registers in its lifespan.

Both are public. `/health/ready` names every failing check with its latency for anyone, but the error text
(exception messages, an MCP server's stderr, a peer's address) only for the admin or another service.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nova_common.auth import ADMIN_HEADER, admin_secrets, service_token_ok
from nova_contracts.health import CheckStatus, DependencyCheck, Liveness, Readiness, ReadinessStatus

CheckFn = Callable[[], Awaitable[object]]
DetailsFn = Callable[[], dict[str, Any]]

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass
class HealthRegistry:
    """What a service's readiness depends on. Lives on `app.state.health`."""

    service: str
    version: str
    started_at: float = field(default_factory=time.monotonic)
    checks: dict[str, tuple[CheckFn, bool]] = field(default_factory=dict)
    details: dict[str, DetailsFn] = field(default_factory=dict)

    def add_check(self, name: str, fn: CheckFn, *, required: bool = True) -> None:
        self.checks[name] = (fn, required)

    def add_details(self, name: str, fn: DetailsFn) -> None:
        self.details[name] = fn

    async def _run(self, name: str, fn: CheckFn, required: bool) -> DependencyCheck:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(fn(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            status, detail = CheckStatus.DOWN, f"no answer within {CHECK_TIMEOUT_SECONDS:.0f}s"
        except Exception as exc:
            status, detail = CheckStatus.DOWN, f"{type(exc).__name__}: {exc}"[:300]
        else:
            status, detail = CheckStatus.OK, ""
        latency = round((time.perf_counter() - start) * 1000, 2)
        return DependencyCheck(
            name=name, status=status, required=required, latency_ms=latency, detail=detail or None
        )

    async def readiness(self) -> Readiness:
        results = await asyncio.gather(*(self._run(n, fn, req) for n, (fn, req) in self.checks.items()))
        ready = all(r.status is CheckStatus.OK for r in results if r.required)
        details: dict[str, Any] = {}
        for name, fn in self.details.items():
            try:
                details[name] = fn()
            except Exception as exc:
                details[name] = {"error": str(exc)}
        return Readiness(
            service=self.service,
            status=ReadinessStatus.READY if ready else ReadinessStatus.NOT_READY,
            version=self.version,
            checks=list(results),
            details=details,
        )


def http_live_check(client: httpx.AsyncClient, base_url: str) -> CheckFn:
    """Check a peer by its *liveness* probe, so one slow dependency does not cascade through the stack."""

    async def check() -> None:
        response = await client.get(f"{base_url.rstrip('/')}/health/live", timeout=CHECK_TIMEOUT_SECONDS)
        response.raise_for_status()

    return check


# Keys of `details` entries that carry error text; dropped, at any depth, for public callers.
_ERROR_KEYS = ("error", "errors", "last_error")


def _without_error_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_error_text(v)
            for k, v in value.items()
            if not (isinstance(k, str) and (k in _ERROR_KEYS or k.endswith("_error")))
        }
    if isinstance(value, list):
        return [_without_error_text(v) for v in value]
    return value


async def _sees_error_text(request: Request) -> bool:
    if service_token_ok(request):
        return True
    given = request.headers.get(ADMIN_HEADER)
    return given is not None and await admin_secrets(request).check(given)


def health_router() -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", response_model=Liveness)
    async def get_liveness(request: Request) -> Liveness:
        """The process is up and serving HTTP."""
        registry: HealthRegistry = request.app.state.health
        return Liveness(
            service=registry.service,
            version=registry.version,
            uptime_seconds=round(time.monotonic() - registry.started_at, 3),
        )

    @router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    async def get_readiness(request: Request) -> JSONResponse:
        """Every required dependency answers; 503 naming the failing one otherwise.

        Error text is included only for the admin (`X-Admin-Secret`) or a service (`X-Service-Token`).
        """
        registry: HealthRegistry = request.app.state.health
        report = await registry.readiness()
        code = 200 if report.status is ReadinessStatus.READY else 503
        if await _sees_error_text(request):
            body = report.model_dump(mode="json")
            failing = ", ".join(f"{c.name} ({c.detail})" for c in report.failing)
        else:
            public = report.model_copy(
                update={
                    "checks": [c.model_copy(update={"detail": None}) for c in report.checks],
                    "details": _without_error_text(report.details),
                }
            )
            body = public.model_dump(mode="json")
            failing = ", ".join(c.name for c in report.failing)
        if code == 503:
            body["detail"] = "not ready: " + failing
        return JSONResponse(body, status_code=code)

    return router
