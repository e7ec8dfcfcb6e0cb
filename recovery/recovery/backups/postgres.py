"""The PostgreSQL side of a backup: which pg_dump/pg_restore to run, a consistent dump, and per-table checksums.

The dump and the checksums come from one exported snapshot, so the manifest describes exactly the rows in
the dump even while services keep writing. A restore runs `pg_restore --single-transaction`: killed at any
point, PostgreSQL rolls it back and the database is as it was.
"""

import asyncio
import ctypes
import os
import re
import shutil
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from nova_common.errors import NotConfigured, UpstreamUnavailable
from nova_common.postgres import application_name
from nova_contracts.recovery import TableChecksum, TableStats

# Text forms that do not depend on the session, so a checksum taken before a backup and after a restore
# compares rows and nothing else.
_STABLE_SESSION = (
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
    "SET extra_float_digits = 1; SET bytea_output = 'hex'"
)
_TABLES_BY_SIZE_SQL = """
SELECT schemaname, tablename FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg_toast%'
ORDER BY pg_table_size(format('%I.%I', schemaname, tablename)::regclass) DESC, schemaname, tablename
"""
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Connection:
    """libpq connection parameters with the password kept out of argv (where `ps` would show it)."""

    dsn: str
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> "Connection":
        parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        password = unquote(parts.password) if parts.password is not None else None
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        user = f"{parts.username}@" if parts.username else ""
        netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
        return cls(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), password)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        env["PGCONNECT_TIMEOUT"] = "10"
        return env


def table_label(schema: str, table: str) -> str:
    return table if schema == "public" else f"{schema}.{table}"


# Columns of a table with what their values are hashed as (see `_binary_column`).
_COLUMNS_SQL = """
SELECT quote_ident(a.attname) AS name, a.atttypid::int AS type_oid, t.typtype, t.typelem::int AS element,
       CASE WHEN t.typsend <> 0 THEN t.typsend::regproc::text END AS send_function
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
# OIDs below this are PostgreSQL's own types, the same on every server; an extension's or a user's type gets
# a new one in each database (a restore that re-creates the extension changes it).
_FIRST_USER_OID = 16384


def _binary_column(column: asyncpg.Record) -> str:
    """The column as a value whose binary form is the same on every server: built-in types as they are, an
    extension's base type (pgvector's `vector`) through its own send function (bytes, not its OID), anything
    else user-defined (enums, domains, composites, arrays of those) as text."""
    name = f"t.{column['name']}"
    if column["type_oid"] < _FIRST_USER_OID:
        return name
    if column["typtype"] == "b" and column["element"] == 0 and column["send_function"]:
        return f"{column['send_function']}({name})"
    return f"{name}::text"


async def _row_hash(conn: asyncpg.Connection, qualified: str, method: TableChecksum) -> str:
    if method is TableChecksum.ROW_TEXT:
        return "hashtextextended(t::text, 0)"
    columns = [_binary_column(c) for c in await conn.fetch(_COLUMNS_SQL, qualified)]
    # ROW(...) of the columns, sent in its binary form: each value's bytes with its (built-in) type OID.
    return f"('x' || left(md5(record_send(ROW({', '.join(columns)}))), 16))::bit(64)::bigint"


async def _one_table(conn: asyncpg.Connection, schema: str, table: str, method: TableChecksum) -> TableStats:
    qualified = await conn.fetchval("SELECT quote_ident($1) || '.' || quote_ident($2)", schema, table)
    # The name is quoted by quote_ident above; identifiers cannot be bind parameters.
    rows_hash = f"coalesce(sum({await _row_hash(conn, qualified, method)}::numeric), 0)::text"
    row = await conn.fetchrow(f"SELECT count(*) AS n, {rows_hash} AS checksum FROM {qualified} t")  # noqa: S608
    return TableStats(name=table_label(schema, table), rows=row["n"], checksum=row["checksum"])


async def table_stats(
    conn: asyncpg.Connection,
    on_table: Callable[[], None] | None = None,
    method: TableChecksum = TableChecksum.ROW_BINARY,
    helpers: Sequence[asyncpg.Connection] = (),
) -> list[TableStats]:
    """Row count and checksum of every table, in the connection's current transaction (and in `helpers`,
    connections whose transactions read the same snapshot: the tables are shared out among them, largest
    first, so each core hashes one).

    The checksum is the exact sum of a 64-bit hash of each row: independent of physical row order (which a
    restore changes), with nothing to sort. `method` says what is hashed: the row's binary form (what new
    backups use) or its text (what the first archives used; a restore compares with the manifest's method).
    """
    connections = [conn, *helpers]
    for each in connections:
        await each.execute(_STABLE_SESSION)
    tables = deque((r["schemaname"], r["tablename"]) for r in await conn.fetch(_TABLES_BY_SIZE_SQL))
    found: dict[str, TableStats] = {}

    async def work(each: asyncpg.Connection) -> None:
        while tables:
            stats = await _one_table(each, *tables.popleft(), method)
            found[stats.name] = stats
            if on_table is not None:
                on_table()

    await asyncio.gather(*(work(each) for each in connections))
    return [found[name] for name in sorted(found)]


async def table_stats_now(pool: asyncpg.Pool, method: TableChecksum) -> list[TableStats]:
    """`table_stats` of the database as it is now: on two of the pool's connections reading one snapshot,
    unless the pool holds only one."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        if pool.get_max_size() < 2:
            return await table_stats(conn, method=method)
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        async with pool.acquire() as helper, helper.transaction(isolation="repeatable_read", readonly=True):
            await helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            return await table_stats(conn, method=method, helpers=[helper])


async def end_other_sessions(conn: asyncpg.Connection) -> int:
    """Disconnect every session on this database but recovery's own: after a restore replaced the tables, a
    service's cached prepared statements name the old ones (memory-service's next write failed with
    InvalidCachedStatementError); reconnected, the services plan against the restored schema."""
    count: int = await conn.fetchval(
        """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
             AND application_name IS DISTINCT FROM $1""",
        application_name("recovery"),
    )
    return count


async def server_version(conn: asyncpg.Connection) -> str:
    version: str = await conn.fetchval("SHOW server_version")
    return version.split()[0]


def major(version: str) -> int:
    match = _VERSION.search(version)
    return int(match.group(1)) if match else 0


def _tool_version(binary: Path) -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return match.group(0) if match else None


def _candidate_dirs(configured: Path | None) -> list[Path]:
    dirs = [configured] if configured else []
    try:
        from nova_common.embedded import postgres_bin_dir

        dirs.append(postgres_bin_dir())
    except Exception:  # noqa: S110 (the embedded server is optional: a Compose image does not ship it)
        pass
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).parent)
    return dirs


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path
    version: str

    @property
    def pg_dump(self) -> str:
        return str(self.bin_dir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        return str(self.bin_dir / "pg_restore")


def find_tools(server_major: int, configured: Path | None) -> PgTools:
    """pg_dump/pg_restore able to handle this server: the same major version, else the newest newer one."""
    found: list[PgTools] = []
    for directory in _candidate_dirs(configured):
        if (directory / "pg_dump").exists() and (directory / "pg_restore").exists():
            version = _tool_version(directory / "pg_dump")
            if version:
                found.append(PgTools(directory, version))
    for tools in found:
        if major(tools.version) == server_major:
            return tools
    newer = sorted((t for t in found if major(t.version) > server_major), key=lambda t: major(t.version))
    if newer:
        return newer[0]
    seen = ", ".join(f"{t.bin_dir} ({t.version})" for t in found) or "none"
    raise NotConfigured(
        f"no pg_dump/pg_restore for PostgreSQL {server_major} found (seen: {seen}): install the PostgreSQL "
        f"{server_major} client tools (Debian: postgresql-client-{server_major}) on PATH or set PG_BIN_DIR"
    )


def _die_with_parent() -> None:
    # A killed recovery process must not leave pg_restore running on: its transaction has to end with it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def run_tool(
    argv: list[str],
    connection: Connection,
    *,
    on_stderr_line: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Run pg_dump/pg_restore; a non-zero exit becomes UpstreamUnavailable with its last error lines."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=connection.env(),
        preexec_fn=_die_with_parent,  # only calls prctl between fork and exec
    )
    tail: list[str] = []
    assert process.stderr is not None
    try:
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail = [*tail[-9:], line]
            if on_stderr_line is not None:
                result = on_stderr_line(line)
                if result is not None:
                    await result
        code = await process.wait()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    if code != 0:
        errors = [line for line in tail if "error" in line.lower()] or tail
        raise UpstreamUnavailable(f"{Path(argv[0]).name} failed (exit {code}): " + " | ".join(errors[-3:]))
