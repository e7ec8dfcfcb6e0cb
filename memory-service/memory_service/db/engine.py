"""The SQLAlchemy async engine (asyncpg driver). memory-service uses the ORM, as the seed decides."""

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

Sessions = async_sessionmaker[AsyncSession]


def async_url(database_url: str) -> str:
    """`postgresql://…` (the URL every service shares) → `postgresql+asyncpg://…` for SQLAlchemy."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError("DATABASE_URL must look like postgresql://user:password@host:port/db")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql") else database_url


# The HNSW settings every connection starts with: those of a search with the default tuning (the
# `HNSW_EF_SEARCH` setting's default), so the recall on every chat turn sends its query alone instead of
# wrapping it in a transaction to change them. A search that needs other values sets them for its own
# transaction (`memories/search.py`). Iterative scans keep a filtered search (by owner, tier, agent…)
# from coming back short; formation's nearest-duplicate lookups get them too.
SESSION_EF_SEARCH = 100
SESSION_ITERATIVE_SCAN = "relaxed_order"


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    # force_custom_plan: asyncpg prepares every statement, and a generic plan cannot prove that
    # `embedding_model = $1` matches a partial HNSW index's predicate, so it would fall back to a scan.
    # JIT compilation costs more than it saves on these short queries.
    server_settings = {
        "plan_cache_mode": "force_custom_plan",
        "jit": "off",
        "hnsw.ef_search": str(SESSION_EF_SEARCH),
        "hnsw.iterative_scan": SESSION_ITERATIVE_SCAN,
    }
    engine = create_async_engine(
        async_url(database_url),
        pool_size=pool_size,
        connect_args={"server_settings": server_settings},
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Replace a pooled connection the server has closed (a restart, `pg_terminate_backend`, an idle
    timeout) before it is handed out. asyncpg sees the server's goodbye on its idle socket, so this costs no
    round trip; `pool_pre_ping` asked the server every time, in three (BEGIN, `;`, ROLLBACK), which were a
    good part of a context assembly's time."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def session_factory(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


async def driver_connection(session: AsyncSession) -> "asyncpg.Connection[Any]":
    """The session's asyncpg connection, for the statements on a chat turn's path: run on it directly they
    skip SQLAlchemy's per-call work and the BEGIN it would send first (one statement is atomic alone)."""
    connection: asyncpg.Connection[Any] | None = (
        await (await session.connection()).get_raw_connection()
    ).driver_connection
    if connection is None:
        raise RuntimeError("the session's connection was closed")
    return connection


def engine_check(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check
