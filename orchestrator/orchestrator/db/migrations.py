"""Versioned SQL migrations, applied at startup: each file once, in order, under an advisory lock.

Files are `NNN_name.sql` in `orchestrator/migrations/`. Each runs in its own transaction together with its
row in `schema_migrations`, so a failing file leaves nothing behind and stops startup with its name. The
advisory lock serialises orchestrators that start together; the second one finds the work done.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger("orchestrator.migrations")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant unique to this purpose; two orchestrators must agree on it.
ADVISORY_LOCK_ID = 0x4E4F5641_0001  # "NOVA", 1
_FILENAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


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


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
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


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


async def apply_migrations(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; return the file names applied by this call."""
    migrations = discover(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
    try:
        await conn.execute(_CREATE_LEDGER)
        applied = {
            r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in migrations:
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
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"migration {migration.path.name} failed: {exc}") from exc
            log.info("migration_applied", file=migration.path.name)
            done.append(migration.path.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
