"""Nova Chat API: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from chat_api import __doc__ as description
from chat_api import __version__
from chat_api.config import Settings, get_settings
from nova_common.app import create_service_app
from nova_common.resources import open_resources


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with open_resources(app, peers=("orchestrator",)):
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Chat API",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
