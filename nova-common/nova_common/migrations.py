"""Versioned SQL migrations, applied at startup: each file once, in order, under an advisory lock.

Files are `NNN_name.sql` in a service's migrations folder. Each runs in its own transaction together with
its row in the service's ledger table, so a failing file leaves nothing behind and stops startup with its
name. The advisory lock serialises replicas that start together; the second one finds the work done.

Services sharing one database keep separate histories: each passes its own `MigrationSet` (folder,
ledger table, lock id), so the orchestrator's `005` and memory-service's `005` never collide.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("nova.migrations")

_FILENAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class MigrationError(RuntimeError):
    """A migration could not be applied; startup must stop."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationSet:
    """One service's migration history: where its files are, where it records them, which lock it takes."""

    directory: Path
    table: str
    lock_id: int

    def __post_init__(self) -> None:
        # The table name is formatted into DDL (it cannot be a bind parameter), so it must be a plain name.
        if not _IDENTIFIER.match(self.table):
            raise ValueError(f"ledger table name {self.table!r} must be a lower-case SQL identifier")


def discover(directory: Path) -> list[Migration]:
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named NNN_name.sql")
        version, name = match.groups()
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice ({found[version].path.name})")
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found, key=int)]


# Any fixed 64-bit number no service uses as its own lock id: "nova-migrations" in ASCII.
SHARED_LOCK_ID = 0x6E6F76612D6D6967


async def apply_migrations(conn: asyncpg.Connection, migrations: MigrationSet) -> list[str]:
    """Apply every pending migration of `migrations`; return the file names applied by this call."""
    pending = discover(migrations.directory)
    table = migrations.table
    await conn.execute("SELECT pg_advisory_lock($1)", migrations.lock_id)
    # Services sharing a database also take one database-wide lock: their files may create the same
    # extension, and `CREATE EXTENSION IF NOT EXISTS` run at the same moment by two sessions fails one of
    # them with a unique violation (seen when orchestrator and memory-service start together).
    await conn.execute("SELECT pg_advisory_lock($1)", SHARED_LOCK_ID)
    try:
        await conn.execute(
            # The table name is a validated identifier (see MigrationSet).
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied: dict[str, Mapping[str, Any]] = {
            r["version"]: r
            for r in await conn.fetch(f"SELECT version, name, checksum FROM {table}")  # noqa: S608
        }
        done: list[str] = []
        for migration in pending:
            previous = applied.get(migration.version)
            if previous is not None:
                if previous["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} was edited after it was applied; add a new migration instead"
                    )
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await _record(conn, table, migration)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
            log.info("migration_applied", file=migration.path.name, ledger=table)
            done.append(migration.path.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", SHARED_LOCK_ID)
        await conn.execute("SELECT pg_advisory_unlock($1)", migrations.lock_id)


async def _record(conn: asyncpg.Connection, table: str, migration: Migration) -> None:
    await conn.execute(
        f"INSERT INTO {table} (version, name, checksum) VALUES ($1, $2, $3)",  # noqa: S608
        migration.version,
        migration.name,
        migration.checksum,
    )


async def migrate(database_url: str, migrations: MigrationSet) -> list[str]:
    """Open a connection of its own, apply `migrations`, close it: for services without an asyncpg pool."""
    conn = await asyncpg.connect(database_url)
    try:
        return await apply_migrations(conn, migrations)
    finally:
        await conn.close()
