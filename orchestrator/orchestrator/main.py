"""Nova Orchestrator: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from nova_common.app import create_service_app
from nova_common.resources import open_resources
from orchestrator import __doc__ as description
from orchestrator import __version__
from orchestrator.config import Settings, get_settings
from orchestrator.db.migrations import apply_migrations
from orchestrator.keys.repository import ApiKeyRepository


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with open_resources(app, postgres=True, peers=("llm-gateway", "memory-service")) as resources:
        assert resources.pg is not None
        async with resources.pg.acquire() as conn:
            applied = await apply_migrations(conn)
        app.state.health.add_details("migrations", lambda: {"applied_at_startup": applied})
        app.state.api_key_store = ApiKeyRepository(resources.pg)
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Orchestrator",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
