"""The resources a service's lifespan opens: Redis on its own DB, an optional asyncpg pool, peer clients.

Everything is opened inside the lifespan and closed on the way out; nothing connects at import time. Each
resource registers its readiness check: Redis and Postgres are required; peers are checked on their
liveness probe and reported without failing readiness, so one slow service does not cascade.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request

from nova_common.auth import AdminSecrets
from nova_common.config import DatabaseSettings, NovaSettings
from nova_common.health import HealthRegistry, http_live_check
from nova_common.http import ServiceClient
from nova_common.postgres import create_pool, postgres_check
from nova_common.redis import CONFIG_DB, REDIS_DB_MAP, create_redis


@dataclass
class Resources:
    redis: aioredis.Redis
    pg: asyncpg.Pool | None = None
    peers: dict[str, ServiceClient] = field(default_factory=dict)


@asynccontextmanager
async def open_resources(
    app: FastAPI,
    *,
    postgres: bool = False,
    peers: tuple[str, ...] = (),
    required_peers: tuple[str, ...] = (),
) -> AsyncIterator[Resources]:
    settings: NovaSettings = app.state.settings
    health: HealthRegistry = app.state.health
    redis = create_redis(settings.service_name, settings.redis_url)
    health.add_check("redis", redis.ping)
    resources = Resources(redis=redis)
    # Shared runtime config (a rotated admin secret among it) lives in DB 1, whatever this service's own DB.
    owns_config_db = REDIS_DB_MAP.get(settings.service_name) == CONFIG_DB
    config_redis = redis if owns_config_db else create_redis("llm-gateway", settings.redis_url)
    app.state.admin_secrets = AdminSecrets(settings, config_redis)
    try:
        if postgres:
            if not isinstance(settings, DatabaseSettings):
                raise TypeError("open_resources(postgres=True) needs DatabaseSettings")
            resources.pg = await create_pool(
                settings.database_url,
                min_size=settings.database_pool_min,
                max_size=settings.database_pool_max,
                service=settings.service_name,
            )
            health.add_check("postgres", postgres_check(resources.pg))
        token = settings.service_token.get_secret_value()
        for peer in (*peers, *required_peers):
            base_url: str = getattr(settings, peer.replace("-", "_") + "_url")
            client = ServiceClient(peer, base_url, service_token=token)
            resources.peers[peer] = client
            health.add_check(peer, http_live_check(client.http, base_url), required=peer in required_peers)
        app.state.resources = resources
        yield resources
    finally:
        for client in resources.peers.values():
            await client.aclose()
        if resources.pg is not None:
            await resources.pg.close()
        if config_redis is not redis:
            await config_redis.aclose()
        await redis.aclose()


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop
# that costs more than the lookup itself on every request.


def _resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


async def get_redis(request: Request) -> aioredis.Redis:
    return _resources(request).redis


async def get_pg(request: Request) -> asyncpg.Pool:
    pool = _resources(request).pg
    if pool is None:
        raise RuntimeError("this service has no Postgres pool")
    return pool


RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
PgDep = Annotated[Any, Depends(get_pg)]
