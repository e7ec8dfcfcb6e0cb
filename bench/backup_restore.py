"""recovery's backup and restore next to plain pg_dump/pg_restore of the same database, in the same run.

    uv run python bench/backup_restore.py                   # 10k and 100k memories
    uv run python bench/backup_restore.py --sizes 10000     # a quicker run

For each size a fresh database gets memory-service's schema and N memories with 384-d vectors. Then:
- plain: `pg_dump -Fc --compress=6` to a file, and `pg_restore --clean --if-exists --single-transaction`;
- Nova: a backup through `BackupService` (dump from an exported snapshot, per-table checksums computed
  alongside, Redis, archive), its restore without the safety backup (pg_restore, Redis, then the
  checksum comparison), and the full restore route's work (safety backup first).
The target is Nova within 1.5x of the plain tools for backup time and the restore step.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval_eval import fresh_database, infrastructure

from nova_common.migrations import MigrationSet, migrate
from nova_common.postgres import create_pool
from nova_common.redis import create_redis
from nova_contracts.recovery import BackupReason
from recovery.backups import postgres
from recovery.backups.archive import check_archive
from recovery.backups.operation import Operations
from recovery.backups.service import BackupService
from recovery.config import Settings

ROOT = Path(__file__).resolve().parents[1]
MEMORY_SCHEMA = MigrationSet(
    ROOT / "memory-service" / "memory_service" / "migrations", "memory_schema_migrations", 0x6E6F76612D6D656D
)


async def seed(url: str, count: int) -> None:
    await migrate(url, MEMORY_SCHEMA)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            INSERT INTO memories (id, tier, content, content_hash, embedding, embedding_model, embedding_dim)
            SELECT gen_random_uuid(), 'semantic', 'memory ' || g || ' ' || md5(g::text), md5(g::text),
                   (SELECT array_agg(random())::vector FROM generate_series(1, 384) d WHERE g > 0),
                   'bench-model', 384
            FROM generate_series(1, $1) g
            """,
            count,
        )
    finally:
        await conn.close()


async def timed(work: Awaitable[object]) -> float:
    start = time.perf_counter()
    await work
    return time.perf_counter() - start


async def run_size(admin_url: str, redis_url: str, count: int, workdir: Path) -> None:
    url = await fresh_database(admin_url, f"bench_backup_{count}")
    print(f"\n== {count:,} memories: seeding…", flush=True)
    await seed(url, count)
    settings = Settings.model_validate(
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "NOVA_DATA_DIR": str(workdir / f"data-{count}"),
            "NOVA_WORKSPACE": str(workdir / "workspace"),
            "NOVA_ENV_FILE": str(workdir / "none.env"),
        }
    )
    # As recovery's own pool: named, so the restore's end of other sessions spares it.
    pool = await create_pool(url, min_size=1, max_size=4, service="recovery")
    recovery_redis = create_redis("recovery", redis_url)
    config_redis = create_redis("llm-gateway", redis_url)
    try:
        service = BackupService(settings, pool, Operations(recovery_redis, config_redis))
        tools = await service.tools()
        connection = postgres.Connection.from_url(url)
        plain_file = workdir / f"plain-{count}.dump"
        dump = [
            tools.pg_dump,
            "--format=custom",
            "--compress=6",
            f"--file={plain_file}",
            f"--dbname={connection.dsn}",
        ]
        restore = [
            tools.pg_restore,
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            f"--dbname={connection.dsn}",
            str(plain_file),
        ]
        plain_dump = await timed(postgres.run_tool(dump, connection))
        plain_restore = await timed(postgres.run_tool(restore, connection))

        start = time.perf_counter()
        info = await service.create(BackupReason.MANUAL)
        nova_backup = time.perf_counter() - start
        path = service.path_of(info.name)
        manifest, problems = check_archive(path, pg_restore_major=postgres.major(tools.version))
        assert manifest is not None and not problems, problems
        start = time.perf_counter()
        report = await service._apply(path, manifest, safety_backup=None)
        nova_apply = time.perf_counter() - start
        assert report.matches
        start = time.perf_counter()
        full = await service.restore(info.name)
        nova_full = time.perf_counter() - start
        assert full.matches
    finally:
        await pool.close()
        await recovery_redis.aclose()
        await config_redis.aclose()

    print(f"{'':28}{'time (s)':>10}{'size (MB)':>12}{'x plain':>10}")
    print(f"{'plain pg_dump -Fc':28}{plain_dump:>10.2f}{plain_file.stat().st_size / 1e6:>12.1f}")
    print(
        f"{'Nova backup':28}{nova_backup:>10.2f}{info.size_bytes / 1e6:>12.1f}{nova_backup / plain_dump:>10.2f}"
    )
    print(f"{'plain pg_restore':28}{plain_restore:>10.2f}")
    print(f"{'Nova restore (verified)':28}{nova_apply:>10.2f}{'':>12}{nova_apply / plain_restore:>10.2f}")
    print(f"{'Nova restore route (+safety)':28}{nova_full:>10.2f}{'':>12}{nova_full / plain_restore:>10.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nova-bench-backup-") as tmp:
        workdir = Path(tmp)
        (workdir / "workspace").mkdir()
        async with infrastructure(workdir) as (admin_url, redis_url):
            for count in args.sizes:
                await run_size(admin_url, redis_url, count, workdir)


if __name__ == "__main__":
    asyncio.run(main())
