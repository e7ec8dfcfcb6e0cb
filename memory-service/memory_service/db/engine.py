"""The SQLAlchemy async engine (asyncpg driver). memory-service uses the ORM, as the seed decides."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def async_url(database_url: str) -> str:
    """`postgresql://…` (the URL every service shares) → `postgresql+asyncpg://…` for SQLAlchemy."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://user:password@host:port/db")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql") else database_url


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(async_url(database_url), pool_size=pool_size, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


def engine_check(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check
