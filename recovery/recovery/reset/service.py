"""Factory reset: removes exactly what the chosen categories list, after a backup, and nothing else.

Rows are deleted in one transaction. A table outside the chosen categories that still points at a row the
reset would delete (conversations pointing at an API key, say) stops the reset with a 409 naming it,
because PostgreSQL would otherwise cascade into, or null out, data the user chose to keep.
"""

import asyncio
import fnmatch
from dataclasses import dataclass

import asyncpg
import structlog

from nova_common.errors import BadRequest, Conflict
from nova_contracts.recovery import BackupReason, ResetCategories, ResetReport, ResetRequest
from recovery.backups import redis_state
from recovery.backups.service import BackupService
from recovery.reset.categories import CATEGORIES, PROTECTED_KEY_PATTERNS, Category

log = structlog.get_logger("recovery.reset")

CONFIRMATION = "RESET"
_REFERENCES_SQL = """
SELECT src.relname AS source, a.attname AS column_name, dst.relname AS target
FROM pg_constraint c
JOIN pg_class src ON src.oid = c.conrelid
JOIN pg_class dst ON dst.oid = c.confrelid
JOIN pg_namespace n ON n.oid = src.relnamespace
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND n.nspname = 'public' AND dst.relname = ANY($1::text[])
  AND NOT (src.relname = ANY($1::text[]))
"""


def describe_categories() -> ResetCategories:
    return ResetCategories(categories=[category.describe() for category in CATEGORIES])


def _protected(key: bytes) -> bool:
    text = key.decode(errors="replace")
    return any(fnmatch.fnmatchcase(text, pattern) for pattern in PROTECTED_KEY_PATTERNS)


@dataclass
class ResetService:
    pool: asyncpg.Pool
    backups: BackupService

    async def reset(self, request: ResetRequest) -> ResetReport:
        if request.confirm != CONFIRMATION:
            raise BadRequest(f'type "{CONFIRMATION}" in confirm to reset; nothing was changed')
        # In the catalogue's order, where a category comes before the ones its rows point at.
        chosen = [category for category in CATEGORIES if category.name in set(request.categories)]
        async with self.backups.operations.exclusive("factory reset"):
            existing = await self._existing_tables()
            tables = [rule for category in chosen for rule in category.tables if rule.table in existing]
            await self._refuse_dangling_references([rule.table for rule in tables])
            backup = None
            if request.backup_first:
                backup = (await self.backups.create(BackupReason.BEFORE_RESET, locked=True)).name
            async with self.backups.operations.maintenance("factory reset"):
                rows = await self._delete_rows(chosen, existing)
                keys = await self._delete_keys(chosen)
            files = await asyncio.to_thread(self._delete_backups, chosen, backup)
        log.warning("factory_reset", categories=[c.name.value for c in chosen], backup=backup)
        return ResetReport(
            categories=[c.name for c in chosen],
            backup=backup,
            rows_deleted=rows,
            redis_keys_deleted=keys,
            files_deleted=files,
        )

    async def _existing_tables(self) -> set[str]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}

    async def _refuse_dangling_references(self, tables: list[str]) -> None:
        problems, sources = [], set()
        async with self.pool.acquire() as conn:
            for ref in await conn.fetch(_REFERENCES_SQL, tables):
                source = await conn.fetchval("SELECT quote_ident($1)", ref["source"])
                column = await conn.fetchval("SELECT quote_ident($1)", ref["column_name"])
                count = await conn.fetchval(f"SELECT count(*) FROM {source} WHERE {column} IS NOT NULL")  # noqa: S608
                if count:
                    problems.append(f"{count} row(s) of {ref['source']} refer to {ref['target']}")
                    sources.add(ref["source"])
        if problems:
            owners = sorted(c.name.value for c in CATEGORIES if sources & {rule.table for rule in c.tables})
            hint = f"; choose {', '.join(owners)} too" if owners else ""
            raise Conflict("the reset would change data you chose to keep: " + "; ".join(problems) + hint)

    async def _delete_rows(self, chosen: list[Category], existing: set[str]) -> dict[str, int]:
        deleted: dict[str, int] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            for category in chosen:
                for rule in category.tables:
                    if rule.table not in existing:
                        continue
                    table = await conn.fetchval("SELECT quote_ident($1)", rule.table)
                    where = f" WHERE NOT ({rule.keep_where})" if rule.keep_where else ""
                    status = await conn.execute(f"DELETE FROM {table}{where}")  # noqa: S608 (fixed rules above)
                    deleted[rule.table] = int(status.split()[-1])
        return deleted

    async def _delete_keys(self, chosen: list[Category]) -> int:
        count = 0
        redis_url = self.backups.settings.redis_url
        for category in chosen:
            for db, pattern in category.redis:
                client = redis_state.db_client(redis_url, db)
                try:
                    doomed = [
                        k async for k in client.scan_iter(match=pattern, count=1000) if not _protected(k)
                    ]
                    for start in range(0, len(doomed), 1000):
                        count += await client.delete(*doomed[start : start + 1000])
                finally:
                    await client.aclose()
        return count

    def _delete_backups(self, chosen: list[Category], keep: str | None) -> int:
        if not any(c.removes_backups for c in chosen):
            return 0
        count = 0
        for path in self.backups.directory.glob("nova-backup-*.tar"):
            if path.name != keep:
                path.unlink(missing_ok=True)
                count += 1
        return count
