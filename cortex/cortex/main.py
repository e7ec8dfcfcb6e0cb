"""Nova Cortex: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cortex import __doc__ as description
from cortex import __version__
from cortex.config import Settings, get_settings
from nova_common.app import create_service_app
from nova_common.resources import open_resources


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with open_resources(app, postgres=True, peers=("orchestrator", "llm-gateway")):
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Cortex",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
