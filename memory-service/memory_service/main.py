"""Nova Memory Service: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from nova_common.app import create_service_app
from nova_common.resources import open_resources

from memory_service import __doc__ as description
from memory_service import __version__
from memory_service.config import Settings, get_settings
from memory_service.db.engine import create_engine, engine_check, session_factory


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_max)
    app.state.health.add_check("postgres", engine_check(engine))
    app.state.sessions = session_factory(engine)
    try:
        async with open_resources(app, peers=("llm-gateway",)):
            yield
    finally:
        await engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Memory Service",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
