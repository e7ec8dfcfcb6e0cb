"""Nova Voice Service: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from nova_common.app import create_service_app
from nova_common.resources import open_resources
from voice_service import __doc__ as description
from voice_service import __version__
from voice_service.config import Settings, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with open_resources(app):
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Voice Service",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
