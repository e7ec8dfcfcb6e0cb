"""Versioned SQL migrations against a real PostgreSQL: applied once each, in order, under a lock."""

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from orchestrator.db.migrations import (
    ADVISORY_LOCK_ID,
    MIGRATIONS_DIR,
    MigrationError,
    apply_migrations,
    discover,
)


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


async def test_fresh_database_gets_every_migration_recorded(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        applied = await apply_migrations(conn)
        assert applied == [m.path.name for m in discover()]
        assert {"api_keys", "platform_config", "schema_migrations"} <= await _tables(conn)
        assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'") == 1
        versions = [
            r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        ]
        assert versions == [m.version for m in discover()]
    finally:
        await conn.close()


async def test_reapplying_is_a_no_op(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn)
        await conn.execute("INSERT INTO platform_config (key, value) VALUES ('nova.name', '\"Nova\"')")
        assert await apply_migrations(conn) == []
        assert await conn.fetchval("SELECT value FROM platform_config WHERE key = 'nova.name'") == '"Nova"'
    finally:
        await conn.close()


async def test_two_concurrent_appliers_apply_each_file_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    # A migration that fails if run twice proves the lock, not just the ledger, did the work.
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "900_counter.sql").write_text(
        "CREATE TABLE applied_once (id int primary key); INSERT INTO applied_once VALUES (1);"
        "SELECT pg_sleep(0.5);"
    )
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        results = await asyncio.gather(apply_migrations(first, folder), apply_migrations(second, folder))
        assert sorted(len(r) for r in results) == [0, len(discover(folder))]
        assert await first.fetchval("SELECT count(*) FROM applied_once") == 1
        assert await first.fetchval("SELECT count(*) FROM schema_migrations") == len(discover(folder))
    finally:
        await first.close()
        await second.close()


async def test_broken_file_stops_with_its_name_and_leaves_database_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, folder)
        before = await _tables(conn)
        (folder / "901_broken.sql").write_text(
            "CREATE TABLE half_done (id int); ALTER TABLE no_such_table ADD COLUMN x int;"
        )
        with pytest.raises(MigrationError, match=r"901_broken\.sql"):
            await apply_migrations(conn, folder)
        assert await _tables(conn) == before
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = '901'") == 0
        # The advisory lock was released: another applier is not blocked.
        other = await asyncpg.connect(database_url)
        try:
            assert await other.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_ID) is True
            await other.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
        finally:
            await other.close()
    finally:
        await conn.close()


async def test_editing_an_applied_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, folder)
        first = sorted(folder.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await apply_migrations(conn, folder)
    finally:
        await conn.close()


def test_badly_named_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "initial.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"NNN_name\.sql"):
        discover(tmp_path)
