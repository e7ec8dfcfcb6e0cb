"""Nova Orchestrator: `create_app()` and the lifespan that owns the service's resources."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from nova_common.app import create_service_app
from nova_common.credentials import KeyRateLimiter
from nova_common.fast_path import install_fast_path
from nova_common.health import HealthRegistry
from nova_common.loops import BackgroundLoops
from nova_common.redis import create_redis
from nova_common.resources import open_resources
from orchestrator import __doc__ as description
from orchestrator import __version__
from orchestrator.agents.repository import AgentRepository
from orchestrator.agents.routes import router as agents_router
from orchestrator.agents.service import AgentService
from orchestrator.agents.turn import AgentRunner
from orchestrator.chat.repository import ConversationRepository
from orchestrator.chat.routes import FAST_ROUTES as CHAT_FAST_ROUTES
from orchestrator.chat.routes import router as chat_router
from orchestrator.chat.service import ChatService
from orchestrator.clients.llm_gateway import LlmGatewayClient
from orchestrator.clients.memory_service import MemoryServiceClient
from orchestrator.config import Settings, get_settings
from orchestrator.db.migrations import apply_migrations
from orchestrator.deps import Services
from orchestrator.friction.routes import router as friction_router
from orchestrator.goals.repository import GoalRepository
from orchestrator.goals.routes import router as goals_router
from orchestrator.goals.service import GoalService
from orchestrator.intel.routes import router as intel_router
from orchestrator.journal.routes import router as journal_router
from orchestrator.keys.repository import ApiKeyRepository
from orchestrator.keys.routes import router as keys_router
from orchestrator.keys.service import ApiKeyService
from orchestrator.keys.usage_tracker import KeyUsageTracker
from orchestrator.knowledge.routes import router as knowledge_router
from orchestrator.mcp_servers.manager import McpManager
from orchestrator.mcp_servers.repository import McpServerRepository
from orchestrator.mcp_servers.routes import router as mcp_router
from orchestrator.mcp_servers.service import McpServerService
from orchestrator.openai_compat.routes import router as openai_router
from orchestrator.openai_compat.service import OpenAICompatService
from orchestrator.pipeline import pipeline_runtime
from orchestrator.pipeline.routes import router as pipeline_router
from orchestrator.platform_config.repository import PlatformConfigRepository
from orchestrator.platform_config.routes import router as config_router
from orchestrator.platform_config.service import PlatformConfigService
from orchestrator.skills.repository import RuleRepository, SkillRepository
from orchestrator.skills.routes import router as skills_router
from orchestrator.skills.service import SkillService
from orchestrator.tasks.repository import TaskRepository
from orchestrator.tasks.routes import router as tasks_router
from orchestrator.tasks.service import TaskService
from orchestrator.tools.routes import router as tools_router
from orchestrator.tools.service import ToolService
from orchestrator.tools.web import SsrfGuard, WebFetcher
from orchestrator.tools.web_search import build_web_searcher
from orchestrator.usage.consumer import UsageConsumer
from orchestrator.usage.repository import UsageRepository
from orchestrator.usage.routes import router as usage_router
from orchestrator.usage.service import UsageService
from orchestrator.usage.spend import router as spend_router

log = structlog.get_logger("orchestrator")


def _service_health(health: HealthRegistry) -> Callable[[], Awaitable[dict[str, str]]]:
    async def report() -> dict[str, str]:
        readiness = await health.readiness()
        return {c.name: c.status.value + (f" ({c.detail})" if c.detail else "") for c in readiness.checks}

    return report


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    health: HealthRegistry = app.state.health
    loops = BackgroundLoops()
    async with open_resources(app, postgres=True, peers=("llm-gateway", "memory-service")) as resources:
        assert resources.pg is not None
        pg, redis = resources.pg, resources.redis
        async with pg.acquire() as conn:
            applied = await apply_migrations(conn)
        health.add_details("migrations", lambda: {"applied_at_startup": applied})
        # Shared runtime config and the gateway's usage stream live in the gateway's DB 1.
        config_redis = create_redis("llm-gateway", settings.redis_url)
        # Goal changes are announced on cortex's stimulus list, in cortex's DB 5.
        stimuli_redis = create_redis("cortex", settings.redis_url)
        web = WebFetcher(
            SsrfGuard.from_settings(settings),
            timeout=settings.web_fetch_timeout_seconds,
            max_bytes=settings.web_fetch_max_bytes,
        )
        searcher = build_web_searcher(settings)
        mcp = McpManager(
            connect_timeout=settings.mcp_connect_timeout_seconds,
            call_timeout=settings.mcp_call_timeout_seconds,
            ping_interval=settings.mcp_ping_interval_seconds,
        )
        try:
            key_repository = ApiKeyRepository(pg)
            app.state.api_key_store = key_repository
            config = PlatformConfigService(
                PlatformConfigRepository(pg),
                config_redis,
                service_token=settings.service_token.get_secret_value()
                if settings.service_token_usable
                else "",
                cache_seconds=settings.platform_config_cache_seconds,
            )
            agents = AgentService(AgentRepository(redis), config)
            skills = SkillService(SkillRepository(pg), RuleRepository(pg))
            app.state.skills = skills
            tools = ToolService(
                config,
                mcp,
                timeout=settings.agent_turn_timeout_seconds,
                max_output_chars=settings.tool_output_max_chars,
                rules=skills,
            )
            gateway = LlmGatewayClient(resources.peers["llm-gateway"])
            goals = GoalService(GoalRepository(pg), stimuli_redis)
            runner = AgentRunner(
                settings=settings,
                agents=agents,
                gateway=gateway,
                memory=MemoryServiceClient(
                    resources.peers["memory-service"], timeout=settings.memory_timeout_seconds
                ),
                tools=tools,
                config=config,
                web_fetch=web.fetch,
                service_health=_service_health(health),
                goals=goals,
                web_search=searcher.search if searcher is not None else None,
            )
            usage_repository = UsageRepository(pg)
            services = Services(
                agents=agents,
                keys=ApiKeyService(key_repository),
                limiter=KeyRateLimiter(config_redis),
                key_usage=KeyUsageTracker(key_repository),
                config=config,
                tools=tools,
                mcp=McpServerService(McpServerRepository(pg), mcp),
                runner=runner,
                tasks=TaskService(
                    TaskRepository(redis, ttl_seconds=settings.task_ttl_seconds), agents, runner
                ),
                chat=ChatService(ConversationRepository(pg), agents, runner, redis),
                usage=UsageService(usage_repository),
                openai=OpenAICompatService(agents, runner),
                goals=goals,
            )
            app.state.services = services

            await agents.recover_after_crash()
            await agents.ensure_primary(settings.primary_agent_name)
            mirrored = await config.sync_to_redis()
            log.info("platform_config_mirrored", keys=mirrored)
            await services.mcp.connect_all()
            health.add_details("mcp_servers", mcp.health_details)

            consumer = UsageConsumer(
                config_redis,
                usage_repository,
                stream=settings.usage_stream,
                group=settings.usage_consumer_group,
                block_ms=settings.usage_block_ms,
            )
            loops.forever("usage-consumer", consumer.consume_once, backoff=2.0)
            loops.every("api-key-last-used", settings.key_touch_interval_seconds, services.key_usage.flush)
            async with pipeline_runtime(app, pg=pg, redis=redis, gateway=gateway, settings=settings.pipeline):
                yield
        finally:
            await loops.stop()
            services_state = getattr(app.state, "services", None)
            if services_state is not None:
                try:
                    await services_state.key_usage.flush()
                except Exception:
                    log.exception("api_key_last_used_flush_failed")
            await mcp.close()
            await web.aclose()
            if searcher is not None:
                await searcher.aclose()
            await config_redis.aclose()
            await stimuli_redis.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        settings or get_settings(),
        title="Nova Orchestrator",
        description=description or "",
        version=__version__,
        lifespan=lifespan,
    )
    for router in (
        config_router,
        agents_router,
        tasks_router,
        chat_router,
        keys_router,
        tools_router,
        mcp_router,
        usage_router,
        openai_router,
        pipeline_router,
        goals_router,
        journal_router,
        intel_router,
        knowledge_router,
        spend_router,
        skills_router,
        friction_router,
    ):
        app.include_router(router)
    install_fast_path(app, CHAT_FAST_ROUTES)
    return app
