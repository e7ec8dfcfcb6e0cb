"""Nova Memory Service: `create_app()` and the lifespan that owns the service's resources."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis

from memory_service import __doc__ as description
from memory_service import __version__
from memory_service.clients.llm_gateway import MemoryGatewayClient
from memory_service.config import Settings, get_settings
from memory_service.context.service import ContextService
from memory_service.db.engine import Sessions, create_engine, engine_check, session_factory
from memory_service.db.schema import apply_schema_migrations
from memory_service.embeddings.backlog import EmbeddingBacklog
from memory_service.embeddings.service import MemoryEmbedder
from memory_service.formation import Formation
from memory_service.formation.consolidation import LEASE_KEY as CONSOLIDATION_LEASE_KEY
from memory_service.formation.consolidation import Consolidator
from memory_service.formation.extraction import Extractor
from memory_service.formation.learning import LearningService
from memory_service.formation.profile import ProfileService
from memory_service.formation.queue import IngestQueue
from memory_service.formation.routes import router as formation_router
from memory_service.formation.service import FormationService
from memory_service.formation.worker import IngestWorker
from memory_service.maintenance.compaction import Compactor
from memory_service.maintenance.keyword_statistics import refresh_keyword_statistics
from memory_service.maintenance.repository import delete_expired
from memory_service.maintenance.runner import PeriodicTask
from memory_service.memories.service import MemoryService
from memory_service.routes import router
from nova_common.app import create_service_app
from nova_common.health import HealthRegistry
from nova_common.lease import RedisLease
from nova_common.loops import BackgroundLoops
from nova_common.maintenance import MaintenanceFlag
from nova_common.resources import open_resources

# How long startup waits for the gateway to say which embedding model it serves. A gateway that is
# still loading is not waited for: the first embedding it does answer tells the same thing.
PROBE_TIMEOUT_SECONDS = 5.0

# A maintenance lease is renewed while its job runs; a replica that dies frees it after this long.
MAINTENANCE_LEASE_SECONDS = 60.0
SHUTDOWN_STEP_SECONDS = 10.0

log = structlog.get_logger("memory_service.main")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    health: HealthRegistry = app.state.health
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_max)
    health.add_check("postgres", engine_check(engine))
    try:
        await apply_schema_migrations(settings.database_url)
        sessions = session_factory(engine)
        async with open_resources(app, peers=("llm-gateway",)) as resources:
            gateway = MemoryGatewayClient(
                resources.peers["llm-gateway"], timeout=settings.embedding_timeout_seconds
            )
            embeddings = MemoryEmbedder(
                sessions,
                resources.redis,
                gateway,
                model=settings.embedding_model,
                dimensions=settings.embedding_dimensions,
                batch_size=settings.embedding_batch_size,
                ttl_seconds=settings.embedding_cache_ttl_seconds,
                retry_after_seconds=settings.embedding_retry_after_seconds,
            )
            backlog = EmbeddingBacklog(
                engine,
                sessions,
                embeddings,
                batch_size=settings.embedding_batch_size,
                hnsw_m=settings.hnsw_m,
                hnsw_ef_construction=settings.hnsw_ef_construction,
            )
            await backlog.load_target(
                model=settings.embedding_model, dimensions=settings.embedding_dimensions
            )
            await embeddings.probe(PROBE_TIMEOUT_SECONDS)

            async def expire_working_memory() -> dict[str, int]:
                async with sessions.begin() as session:
                    return {"deleted": await delete_expired(session)}

            compactor = Compactor(
                sessions,
                embeddings,
                similarity=settings.compaction_similarity,
                batch_size=settings.compaction_batch_size,
            )

            def one_replica(job: str) -> RedisLease:
                """Re-embedding, the BM25 statistics and merging duplicates run in one replica at a time."""
                return RedisLease(
                    resources.redis, f"nova:memory:maintenance:{job}", MAINTENANCE_LEASE_SECONDS
                )

            tasks = [
                PeriodicTask(
                    "embedding_backlog",
                    settings.embedding_backlog_interval_seconds,
                    backlog.run_once,
                    lease=one_replica("embedding_backlog"),
                ),
                PeriodicTask(
                    "working_memory_expiry", settings.expiry_interval_seconds, expire_working_memory
                ),
                PeriodicTask(
                    "keyword_statistics",
                    settings.keyword_statistics_interval_seconds,
                    lambda: refresh_keyword_statistics(sessions),
                    lease=one_replica("keyword_statistics"),
                ),
            ]
            if settings.compaction_enabled:
                tasks.append(
                    PeriodicTask(
                        "compaction",
                        settings.compaction_interval_seconds,
                        compactor.run_once,
                        lease=one_replica("compaction"),
                    )
                )
            backlog.wake = tasks[0].wake
            health.add_details("maintenance", lambda: {task.name: task.details() for task in tasks})
            health.add_details("embeddings", embeddings.details)

            memories = MemoryService(sessions, embeddings, settings)
            formation = build_formation(settings, sessions, memories, gateway, compactor, resources.redis)
            health.add_details("ingestion", formation.worker.details)
            app.state.memories = memories
            app.state.backlog = backlog
            app.state.formation = formation
            app.state.context = ContextService(
                memories,
                formation.learning,
                candidates=settings.context_candidates,
                dedup_similarity=settings.context_dedup_similarity,
            )
            for task in tasks:
                task.start()
            loops = BackgroundLoops()
            # recovery's maintenance flag (a restore): ingestion and consolidation hold until it goes.
            maintenance = app.state.maintenance = MaintenanceFlag.for_stack(settings.redis_url)
            formation.worker.maintenance = maintenance
            try:
                if settings.ingest_enabled:
                    await formation.worker.start(loops)
                if settings.consolidation_enabled:
                    loops.every(
                        "consolidation",
                        settings.consolidation_check_interval_seconds,
                        maintenance.skipping(formation.consolidator.tick),
                    )
                yield
            finally:
                await _bounded("background loops", loops.stop())
                await _bounded("maintenance flag", maintenance.aclose())
                for task in tasks:
                    await _bounded(f"maintenance task {task.name}", task.stop())
    finally:
        await _bounded("database connections", engine.dispose())


async def _bounded(step: str, stopping: Awaitable[object]) -> None:
    """A shutdown step that does not finish in time is logged and left: the process must still exit (a
    stuck step once held a whole test run's lifespan shutdown until its timeout)."""
    try:
        await asyncio.wait_for(stopping, SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("shutdown_step_timed_out", step=step, seconds=SHUTDOWN_STEP_SECONDS)


def build_formation(
    settings: Settings,
    sessions: Sessions,
    memories: MemoryService,
    gateway: MemoryGatewayClient,
    compactor: Compactor,
    redis: Redis,
) -> Formation:
    extractor = Extractor(
        gateway,
        model=settings.extraction_model,
        timeout=settings.extraction_timeout_seconds,
        max_input_chars=settings.extraction_max_input_chars,
    )
    queue = IngestQueue(
        redis,
        max_length=settings.ingest_queue_max_length,
        max_attempts=settings.ingest_max_attempts,
        consumer_id=settings.ingest_consumer_id,
        consumer_ttl_seconds=settings.ingest_consumer_ttl_seconds,
    )
    service = FormationService(sessions, memories, extractor, settings)
    return Formation(
        queue=queue,
        service=service,
        worker=IngestWorker(
            queue, service, concurrency=settings.ingest_concurrency, batch_size=settings.ingest_batch_size
        ),
        learning=LearningService(sessions, settings),
        consolidator=Consolidator(
            sessions,
            compactor,
            service,
            extractor,
            settings,
            RedisLease(redis, CONSOLIDATION_LEASE_KEY, MAINTENANCE_LEASE_SECONDS),
        ),
        profiles=ProfileService(sessions, service, queue),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        title="Nova Memory Service",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
    app.include_router(formation_router)
    app.include_router(router)
    return app
