"""memory-service's versioned migrations against a real PostgreSQL: the same schema the ORM models
describe, and a database that `create_all` built before migrations existed adopted with its rows intact."""

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from memory_service.db.engine import async_url
from memory_service.db.models import Base
from memory_service.db.schema import MIGRATIONS, apply_schema_migrations
from nova_common.migrations import discover
from nova_common.testing import create_database, drop_database

LEDGER = MIGRATIONS.table
INITIAL_SQL = (MIGRATIONS.directory / "001_initial.sql").read_text()

# Everything a schema is made of, as the catalog describes it (names, types, defaults, generated
# expressions, constraint and index definitions); the ledger table is bookkeeping, not schema.
_CATALOG = {
    "columns": """
        SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default,
               is_generated, generation_expression
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1""",
    "constraints": """
        SELECT c.conrelid::regclass::text AS table_name, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'public' AND c.conrelid::regclass::text <> $1""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> $1""",
    "extensions": "SELECT extname FROM pg_extension WHERE $1::text IS NOT NULL",
}


async def catalog(database_url: str) -> dict[str, set[tuple[object, ...]]]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            part: {tuple(row.values()) for row in await conn.fetch(query, LEDGER)}
            for part, query in _CATALOG.items()
        }
    finally:
        await conn.close()


async def create_all(database_url: str) -> None:
    """What memory-service did at every start before migrations: the extension, then `create_all`."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


async def execute(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        if args:
            return await conn.fetch(sql, *args)
        await conn.execute(sql)
        return []
    finally:
        await conn.close()


async def test_fresh_database_gets_the_schema_the_models_describe(
    database_url: str, postgres_admin_url: str
) -> None:
    applied = await apply_schema_migrations(database_url)
    assert applied == [m.path.name for m in discover(MIGRATIONS.directory)]
    other = await create_database(postgres_admin_url)
    try:
        await create_all(other)
        expected, got = await catalog(other), await catalog(database_url)
    finally:
        await drop_database(postgres_admin_url, other)
    for part in expected:
        assert (part, sorted(map(str, got[part] - expected[part]))) == (
            part,
            sorted(map(str, expected[part] - got[part])),
        )


async def test_database_built_by_create_all_is_adopted_with_its_rows_intact(database_url: str) -> None:
    # 001 is, statement for statement, what create_all built (the test above keeps the models and the
    # migrations equal); an install from before keyword statistics existed also lacks those two tables.
    await execute(database_url, INITIAL_SQL.replace(" IF NOT EXISTS", ""))
    await execute(database_url, "DROP TABLE keyword_lexemes, keyword_corpus")
    await execute(
        database_url,
        """
        INSERT INTO memories (id, tier, content, content_hash, project_id, category, key, confidence,
                              metadata, embedding, embedding_model, embedding_dim)
        VALUES ('6f9c1a52-0000-4000-8000-000000000001', 'semantic', 'The deploy target is eu-west-1.', 'h1',
                'nova', 'deploy', 'region', 0.8, '{"source": "chat"}', '[1, 0, 0]', 'm', 3),
               ('6f9c1a52-0000-4000-8000-000000000002', 'episodic', 'Deployed 1.4 on Monday.', 'h2',
                NULL, NULL, NULL, 1.0, '{}', NULL, NULL, NULL);
        INSERT INTO memory_access (memory_id, access_count) VALUES ('6f9c1a52-0000-4000-8000-000000000001', 3);
        INSERT INTO fact_revisions (id, memory_id, content, confidence)
        VALUES ('6f9c1a52-0000-4000-8000-0000000000f1', '6f9c1a52-0000-4000-8000-000000000001',
                'The deploy target is us-east-1.', 0.5);
        """,
    )

    applied = await apply_schema_migrations(database_url)

    assert applied == [m.path.name for m in discover(MIGRATIONS.directory)]
    rows = await execute(
        database_url,
        "SELECT id::text, content, key, confidence, metadata::text, embedding::text, owner, shared"
        " FROM memories WHERE $1::int = 1 ORDER BY id",
        1,
    )
    assert [tuple(r.values()) for r in rows] == [
        (
            "6f9c1a52-0000-4000-8000-000000000001",
            "The deploy target is eu-west-1.",
            "region",
            0.8,
            '{"source": "chat"}',
            "[1,0,0]",
            "admin",
            False,
        ),
        (
            "6f9c1a52-0000-4000-8000-000000000002",
            "Deployed 1.4 on Monday.",
            None,
            1.0,
            "{}",
            None,
            "admin",
            False,
        ),
    ]
    [access] = await execute(database_url, "SELECT access_count FROM memory_access WHERE $1::int = 1", 1)
    assert access["access_count"] == 3
    [revision] = await execute(database_url, "SELECT content FROM fact_revisions WHERE $1::int = 1", 1)
    assert revision["content"] == "The deploy target is us-east-1."
    assert await apply_schema_migrations(database_url) == []


async def test_memory_history_is_kept_apart_from_the_orchestrators(database_url: str) -> None:
    await execute(
        database_url,
        "CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " checksum TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
        " INSERT INTO schema_migrations VALUES ('001', 'orchestrator_initial', 'x', now())",
    )
    await apply_schema_migrations(database_url)
    ledger = await execute(
        database_url, f"SELECT version FROM {LEDGER} WHERE $1::int = 1 ORDER BY version", 1
    )
    assert [r["version"] for r in ledger] == [m.version for m in discover(MIGRATIONS.directory)]
    [orchestrator] = await execute(database_url, "SELECT name FROM schema_migrations WHERE $1::int = 1", 1)
    assert orchestrator["name"] == "orchestrator_initial"
