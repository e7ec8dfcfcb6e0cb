"""The SQLAlchemy async engine (asyncpg driver). memory-service uses the ORM, as the seed decides."""

from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Sessions = async_sessionmaker[AsyncSession]


def async_url(database_url: str) -> str:
    """`postgresql://…` (the URL every service shares) → `postgresql+asyncpg://…` for SQLAlchemy."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://user:password@host:port/db")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql") else database_url


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    # force_custom_plan: asyncpg prepares every statement, and a generic plan cannot prove that
    # `embedding_model = $1` matches a partial HNSW index's predicate, so it would fall back to a scan.
    # JIT compilation costs more than it saves on these short queries.
    server_settings = {"plan_cache_mode": "force_custom_plan", "jit": "off"}
    return create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": server_settings},
    )


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


def engine_check(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check
