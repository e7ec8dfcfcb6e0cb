"""Nova Knowledge Worker: `create_app()` and the lifespan that owns the crawl and credential loops."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from knowledge_worker import __doc__ as description
from knowledge_worker import __version__
from knowledge_worker.config import Settings, get_settings
from knowledge_worker.documents import DocumentSink
from knowledge_worker.worker import KnowledgeWorker
from nova_common.app import create_service_app
from nova_common.loops import BackgroundLoops
from nova_common.maintenance import MaintenanceFlag
from nova_common.resources import Resources, open_resources
from nova_common.ssrf import SsrfGuard


def build_worker(settings: Settings, resources: Resources) -> KnowledgeWorker:
    return KnowledgeWorker(
        settings,
        orchestrator=resources.peers["orchestrator"],
        gateway=resources.peers.get("llm-gateway"),
        sink=DocumentSink(resources.redis, resources.peers.get("memory-service")),
        guard=SsrfGuard.from_settings(settings),
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    loops = BackgroundLoops()
    async with open_resources(app, peers=("orchestrator", "llm-gateway", "memory-service")) as resources:
        worker = build_worker(settings, resources)
        # recovery's maintenance flag (a restore): no crawl and no credential check until it goes.
        maintenance = app.state.maintenance = MaintenanceFlag.for_stack(settings.redis_url)
        loops.every(
            "crawl-due-sources", settings.poll_interval_seconds, maintenance.skipping(worker.crawl_due)
        )
        loops.every(
            "validate-credentials",
            settings.credential_check_interval_seconds,
            maintenance.skipping(worker.validate_credentials),
        )
        try:
            yield
        finally:
            await loops.stop()
            await maintenance.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        settings or get_settings(),
        title="Nova Knowledge Worker",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
