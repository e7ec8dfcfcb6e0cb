"""Nova Recovery: `create_app()` and the lifespan that owns the service's resources."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI

from nova_common.app import create_service_app
from nova_common.loops import BackgroundLoops
from nova_common.redis import create_redis
from nova_common.resources import open_resources
from recovery import __doc__ as description
from recovery import __version__
from recovery.api import router
from recovery.backups.operation import Operations
from recovery.backups.routes import UPLOAD_PATH
from recovery.backups.routes import router as backups_router
from recovery.backups.service import BackupService
from recovery.checkpoint_routes import router as checkpoint_router
from recovery.checkpoints import Checkpoints
from recovery.config import Settings, get_settings
from recovery.inference_routes import router as inference_router
from recovery.inference_switch import InferenceSwitcher
from recovery.reset.routes import router as reset_router
from recovery.reset.service import ResetService
from recovery.services.managers import DockerServices, LauncherServices
from recovery.services.routes import build_manager
from recovery.services.routes import router as services_router

log = structlog.get_logger("recovery")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with (
        open_resources(app, postgres=True) as resources,
        httpx.AsyncClient(timeout=settings.probe_timeout_seconds) as probe_client,
    ):
        assert resources.pg is not None
        config_redis = create_redis("llm-gateway", settings.redis_url)
        app.state.probe_client = probe_client
        app.state.background_jobs = set()
        manager = app.state.service_manager = build_manager(settings)
        inference = app.state.inference = InferenceSwitcher(settings, manager, resources.redis, config_redis)
        try:
            await inference.resume_interrupted()
        except Exception:
            log.exception("interrupted_inference_switch_not_resolved")
        backups = BackupService(settings, resources.pg, Operations(resources.redis, config_redis))
        app.state.backups = backups
        app.state.reset = ResetService(resources.pg, backups)
        # A restore killed half-way is rolled back before this service says it is ready. If even that fails
        # (the safety backup is gone), recovery still starts, for the startup screen, but reports not ready.
        try:
            await backups.resume_interrupted_restore()
        except Exception:
            log.exception("interrupted_restore_not_rolled_back", marker=str(backups.marker))

        async def no_unfinished_restore() -> None:
            if backups.marker.exists():
                raise RuntimeError("a restore was interrupted and could not be rolled back")

        app.state.health.add_check("restore", no_unfinished_restore)
        checkpoints = Checkpoints(resources.redis, backups)
        app.state.checkpoints = checkpoints
        loops = BackgroundLoops()
        loops.every("checkpoints", settings.checkpoint_check_seconds, checkpoints.tick)
        try:
            yield
        finally:
            await loops.stop()
            await inference.aclose()
            jobs: set[asyncio.Task[None]] = app.state.background_jobs
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await config_redis.aclose()
            if isinstance(manager, LauncherServices):
                await manager.aclose()
            elif isinstance(manager, DockerServices):
                manager.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        settings,
        title="Nova Recovery",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
        body_limits={UPLOAD_PATH: settings.backup_upload_max_bytes},
    )
    app.include_router(router)
    app.include_router(backups_router)
    app.include_router(reset_router)
    app.include_router(checkpoint_router)
    app.include_router(services_router)
    app.include_router(inference_router)
    return app
