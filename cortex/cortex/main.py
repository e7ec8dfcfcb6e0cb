"""Nova Cortex: `create_app()` and the lifespan that owns the service's resources and its loop."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from cortex import __doc__ as description
from cortex import __version__
from cortex.clients import GatewayClient, MemoryClient, OrchestratorClient
from cortex.config import Settings, get_settings
from cortex.loop import Cortex, renew_lease
from cortex.routes import router
from cortex.state import LEASE_KEY, CortexState
from nova_common.app import create_service_app
from nova_common.lease import RedisLease
from nova_common.loops import BackgroundLoops
from nova_common.redis import create_redis
from nova_common.resources import Resources, open_resources

log = structlog.get_logger("cortex")


def build_cortex(settings: Settings, resources: Resources) -> tuple[Cortex, list[object]]:
    """The object graph; the second value lists the extra Redis clients the lifespan must close."""
    # The loop blocks on its stimulus list for up to the idle interval: its socket must wait longer.
    stimuli = create_redis("cortex", settings.redis_url, socket_timeout=settings.cortex_idle_interval + 15)
    # llm-gateway reads runtime config (the budget tier among it) from its DB 1.
    config_redis = create_redis("llm-gateway", settings.redis_url)
    cortex = Cortex(
        settings,
        orchestrator=OrchestratorClient(resources.peers["orchestrator"]),
        gateway=GatewayClient(resources.peers["llm-gateway"], settings.cortex_llm_timeout_seconds),
        memory=MemoryClient(resources.peers["memory-service"] if settings.cortex_memory_enabled else None),
        state=CortexState(resources.redis),
        lease=RedisLease(resources.redis, LEASE_KEY, settings.cortex_lease_seconds),
        stimuli=stimuli,
        config_redis=config_redis,
    )
    return cortex, [stimuli, config_redis]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    loops = BackgroundLoops()
    async with open_resources(app, peers=("orchestrator", "llm-gateway", "memory-service")) as resources:
        cortex, clients = build_cortex(settings, resources)
        app.state.cortex = cortex
        try:
            if settings.cortex_enabled:
                loops.every(
                    "cortex-lease", settings.cortex_lease_seconds / 3, lambda: renew_lease(cortex.lease)
                )
                loops.once("cortex-first-lease", renew_lease(cortex.lease))
                loops.forever("cortex-cycle", cortex.run_once, backoff=settings.cortex_active_interval)
            yield
        finally:
            await loops.stop()
            try:
                await cortex.lease.release()
            except Exception:
                log.warning("lease_not_released")
            for client in clients:
                await client.aclose()  # type: ignore[attr-defined]


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        title="Nova Cortex",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
    app.include_router(router)
    return app
