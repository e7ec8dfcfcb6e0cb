"""The schema: versioned migrations at startup, and the per-(model, dimension) HNSW indexes.

The tables come from `memory_service/migrations/NNN_name.sql`, applied by the kit's runner with this
service's own ledger (`memory_schema_migrations`, beside the orchestrator's `schema_migrations` in the
same database) and lock. Several replicas may start at once, so schema changes take the same lock.
"""

import hashlib
from pathlib import Path

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from nova_common.migrations import MigrationSet, migrate

log = structlog.get_logger("memory_service.schema")

# An arbitrary constant that names this service's schema lock (ASCII "nova-mem").
SCHEMA_LOCK_KEY = 0x6E6F76612D6D656D
INDEX_PREFIX = "memories_embedding_hnsw_"
MIGRATIONS = MigrationSet(
    directory=Path(__file__).resolve().parent.parent / "migrations",
    table="memory_schema_migrations",
    lock_id=SCHEMA_LOCK_KEY,
)


async def apply_schema_migrations(database_url: str) -> list[str]:
    """Bring the database to the newest schema; a database `create_all` made earlier is adopted (see 001)."""
    return await migrate(database_url, MIGRATIONS)


def vector_index_name(model: str, dim: int) -> str:
    digest = hashlib.sha1(model.encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{INDEX_PREFIX}{dim}_{digest}"


def _literal(value: str) -> str:
    # DDL cannot take bind parameters; standard_conforming_strings makes doubling quotes sufficient.
    return "'" + value.replace("'", "''") + "'"


async def ensure_vector_index(
    engine: AsyncEngine, model: str, dim: int, *, m: int, ef_construction: int
) -> None:
    """The HNSW (cosine) index serving vectors of exactly this model and dimension."""
    name = vector_index_name(model, dim)
    ddl = (
        f"CREATE INDEX IF NOT EXISTS {name} ON memories "
        f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
        f"WHERE embedding_model = {_literal(model)} AND embedding_dim = {int(dim)}"
    )
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        await conn.execute(text(ddl))
    log.info("vector_index_ready", index=name, model=model, dim=dim)


async def drop_other_vector_indexes(conn: AsyncConnection, model: str, dim: int) -> list[str]:
    """Drop the indexes of models no vector uses any more (called once a re-embed job has finished)."""
    keep = vector_index_name(model, dim)
    rows = await conn.execute(
        text("SELECT indexname FROM pg_indexes WHERE tablename = 'memories' AND indexname LIKE :prefix"),
        {"prefix": INDEX_PREFIX + "%"},
    )
    dropped = [name for (name,) in rows if name != keep]
    for name in dropped:
        await conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    return dropped
