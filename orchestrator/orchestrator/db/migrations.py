"""The orchestrator's versioned SQL migrations: `orchestrator/migrations/*.sql`, ledger `schema_migrations`.

The runner itself (each file once, in order, in its own transaction, under an advisory lock) is the kit's
`nova_common.migrations`; this module only names the orchestrator's folder, ledger and lock.
"""

from pathlib import Path

import asyncpg

from nova_common.migrations import Migration, MigrationError, MigrationSet
from nova_common.migrations import apply_migrations as apply_migration_set
from nova_common.migrations import discover as discover_in

__all__ = [
    "ADVISORY_LOCK_ID",
    "MIGRATIONS_DIR",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "discover",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant unique to this purpose; two orchestrators must agree on it.
ADVISORY_LOCK_ID = 0x4E4F5641_0001  # "NOVA", 1
LEDGER_TABLE = "schema_migrations"


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return discover_in(directory)


async def apply_migrations(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending orchestrator migration; return the file names applied by this call."""
    return await apply_migration_set(conn, MigrationSet(directory, LEDGER_TABLE, ADVISORY_LOCK_ID))
