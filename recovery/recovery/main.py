"""Nova Recovery: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from nova_common.app import create_service_app
from nova_common.resources import open_resources
from recovery import __doc__ as description
from recovery import __version__
from recovery.api import router
from recovery.config import Settings, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with (
        open_resources(app, postgres=True),
        httpx.AsyncClient(timeout=settings.probe_timeout_seconds) as probe_client,
    ):
        app.state.probe_client = probe_client
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        title="Nova Recovery",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
    app.include_router(router)
    return app
