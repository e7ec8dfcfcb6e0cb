"""The kit's migration runner against a real PostgreSQL: one history per service, even in one database."""

import asyncio
from pathlib import Path

import asyncpg
import pytest

from nova_common.migrations import MigrationError, MigrationSet, apply_migrations, migrate


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    for filename, sql in files.items():
        (folder / filename).write_text(sql)
    return folder


async def test_two_services_sharing_a_database_keep_separate_histories(
    database_url: str, tmp_path: Path
) -> None:
    first = MigrationSet(
        _folder(tmp_path, "a", {"001_things.sql": "CREATE TABLE things (id INT PRIMARY KEY)"}),
        table="a_migrations",
        lock_id=101,
    )
    # The same version number in another service's folder is another migration, not "already applied".
    second = MigrationSet(
        _folder(tmp_path, "b", {"001_stuff.sql": "CREATE TABLE stuff (id INT PRIMARY KEY)"}),
        table="b_migrations",
        lock_id=102,
    )

    assert await migrate(database_url, first) == ["001_things.sql"]
    assert await migrate(database_url, second) == ["001_stuff.sql"]
    assert await migrate(database_url, first) == []

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT name FROM a_migrations") == "things"
        assert await conn.fetchval("SELECT name FROM b_migrations") == "stuff"
        assert await conn.fetchval("SELECT to_regclass('stuff') IS NOT NULL") is True
    finally:
        await conn.close()


async def test_replicas_starting_together_apply_each_file_once(database_url: str, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "m",
        {
            "001_counter.sql": "CREATE TABLE counter (n INT NOT NULL)",
            "002_bump.sql": "INSERT INTO counter VALUES (1)",
        },
    )
    migrations = MigrationSet(folder, table="m_migrations", lock_id=103)
    results = await asyncio.gather(*(migrate(database_url, migrations) for _ in range(3)))
    assert sorted(len(r) for r in results) == [0, 0, 2]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM counter") == 1
    finally:
        await conn.close()


async def test_failing_file_is_named_and_leaves_nothing_behind(database_url: str, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        "f",
        {"001_ok.sql": "CREATE TABLE ok (id INT)", "002_broken.sql": "CREATE TABLE half (id INT); SELEC"},
    )
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match=r"002_broken\.sql"):
            await apply_migrations(conn, MigrationSet(folder, table="f_migrations", lock_id=104))
        assert await conn.fetchval("SELECT to_regclass('half') IS NULL") is True
        assert await conn.fetchval("SELECT count(*) FROM f_migrations") == 1
        # The lock is released even though the run failed.
        assert await conn.fetchval("SELECT pg_try_advisory_lock(104)") is True
    finally:
        await conn.close()


def test_ledger_table_must_be_a_plain_identifier(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="identifier"):
        MigrationSet(tmp_path, table="ledger; DROP TABLE memories", lock_id=1)


async def test_services_starting_together_may_create_the_same_extension(
    database_url: str, tmp_path: Path
) -> None:
    # Unserialised, two sessions running CREATE EXTENSION IF NOT EXISTS at once fail one of them with a unique
    # violation on pg_extension; the database-wide lock makes both services start.
    sets = [
        MigrationSet(
            _folder(tmp_path, f"s{i}", {"001_ext.sql": "CREATE EXTENSION IF NOT EXISTS pg_trgm"}),
            table=f"s{i}_migrations",
            lock_id=200 + i,
        )
        for i in range(4)
    ]
    results = await asyncio.gather(*(migrate(database_url, s) for s in sets))
    assert results == [["001_ext.sql"]] * 4
