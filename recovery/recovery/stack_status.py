"""Probe every service of the stack for the dashboard's startup screen and `make status`."""

import asyncio
import time

import httpx

from nova_common.stack import SERVICES, ServiceSpec, enabled_profiles, is_enabled
from nova_contracts.health import CheckStatus, DependencyCheck, ServicesOverview, ServiceState, ServiceStatus
from recovery.config import Settings

# Non-Python services have no /health/ready; these paths answer when they are up.
_PROBE_PATHS = {"dashboard": "/", "model-server": "/v1/models"}


def _base_url(spec: ServiceSpec, settings: Settings) -> str:
    if spec.name == "model-server":
        return settings.local_model_url
    url: str = getattr(settings, spec.url_setting)
    return url


async def _probe(client: httpx.AsyncClient, spec: ServiceSpec, url: str) -> ServiceStatus:
    path = _PROBE_PATHS.get(spec.name, "/health/ready")
    start = time.perf_counter()
    try:
        response = await client.get(url.rstrip("/") + path)
    except httpx.HTTPError as exc:
        return ServiceStatus(
            name=spec.name,
            url=url,
            port=spec.port,
            profile=spec.profile,
            state=ServiceState.DOWN,
            # The type only: this answer is public, and error texts name addresses and paths.
            detail=f"unreachable ({type(exc).__name__})",
        )
    latency = round((time.perf_counter() - start) * 1000, 2)
    checks: list[DependencyCheck] = []
    detail = None
    if path == "/health/ready":
        try:
            body = response.json()
            checks = [DependencyCheck.model_validate(c) for c in body.get("checks", [])]
            detail = body.get("detail")
        except ValueError:
            detail = "readiness answer was not JSON"
    state = ServiceState.READY if response.status_code == 200 else ServiceState.NOT_READY
    if state is ServiceState.NOT_READY and detail is None:
        failing = [c.name for c in checks if c.required and c.status is CheckStatus.DOWN]
        detail = f"HTTP {response.status_code}" + (f"; failing: {', '.join(failing)}" if failing else "")
    return ServiceStatus(
        name=spec.name,
        url=url,
        port=spec.port,
        profile=spec.profile,
        state=state,
        latency_ms=latency,
        detail=detail,
        checks=checks,
    )


async def stack_overview(settings: Settings, client: httpx.AsyncClient) -> ServicesOverview:
    profiles = enabled_profiles(settings.profiles)
    probes = []
    for spec in SERVICES:
        url = _base_url(spec, settings)
        if spec.name == settings.service_name:
            probes.append(
                asyncio.sleep(
                    0,
                    ServiceStatus(
                        name=spec.name, url=url, port=spec.port, state=ServiceState.READY, latency_ms=0.0
                    ),
                )
            )
        elif not is_enabled(spec, profiles):
            probes.append(
                asyncio.sleep(
                    0,
                    ServiceStatus(
                        name=spec.name,
                        url=url,
                        port=spec.port,
                        profile=spec.profile,
                        state=ServiceState.DISABLED,
                        detail=f"opt-in: enable the '{spec.profile}' profile",
                    ),
                )
            )
        else:
            probes.append(_probe(client, spec, url))
    statuses = list(await asyncio.gather(*probes))
    expected = [s for s in statuses if s.state is not ServiceState.DISABLED]
    return ServicesOverview(
        services=statuses,
        ready=sum(s.state is ServiceState.READY for s in expected),
        total=len(expected),
    )
