"""Backups and restores: what goes into an archive, how a restore proves itself, and how a crash is undone.

A restore is made crash-safe with a marker file written before anything changes: it names the safety
backup taken just before. If recovery dies (kill -9, power loss) while the marker exists, the next start
restores the safety backup before the service reports ready, so the stack ends in the old state, never a
mix. PostgreSQL itself is restored in one transaction; each Redis DB in one MULTI/EXEC.
"""

import asyncio
import json
import os
import re
import shutil
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog
from starlette.requests import Request

from nova_common.errors import BadRequest, Conflict, NotFound, NovaError, PayloadTooLarge, UpstreamUnavailable
from nova_common.redis import REDIS_DB_MAP
from nova_contracts.recovery import (
    ArchiveCheck,
    ArchiveMember,
    BackupInfo,
    BackupList,
    BackupManifest,
    BackupPhase,
    BackupProgress,
    BackupReason,
    EnvSection,
    RedisComparison,
    RestoreReport,
    TableChecksum,
    TableComparison,
)
from recovery import __version__
from recovery.backups import archive, envfile, postgres, redis_state
from recovery.backups.operation import Operations
from recovery.config import Settings

log = structlog.get_logger("recovery.backups")

ProgressSink = Callable[[BackupProgress], None]
RESTORE_MARKER = "restore-in-progress.json"
# How new backups checksum their tables (a restore uses whatever its manifest says).
CHECKSUM = TableChecksum.ROW_BINARY
# Services that read the restored `.env` keys only at start.
_ENV_READERS = [
    "orchestrator",
    "llm-gateway",
    "memory-service",
    "chat-api",
    "chat-bridge",
    "cortex",
    "recovery",
]
_DUMP_LINE = re.compile(r"dumping contents of table")


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def _info(name: str, size: int, manifest: BackupManifest) -> BackupInfo:
    return BackupInfo(
        name=name,
        size_bytes=size,
        created_at=manifest.created_at,
        reason=manifest.reason,
        nova_version=manifest.nova_version,
        tables=len(manifest.tables),
        rows=sum(t.rows for t in manifest.tables),
        redis_keys=sum(r.keys for r in manifest.redis),
        workspace_files=manifest.workspace_files,
        env_included=manifest.env.included,
    )


def _pack_workspace(source: Path, target: Path) -> int:
    count = 0
    with tarfile.open(target, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                if path.is_symlink() or not (path.is_file() or path.is_dir()):
                    continue  # a link could point anywhere on the host; it is not the workspace's content
                tar.add(path, arcname=str(path.relative_to(source)), recursive=False)
                count += path.is_file()
    return count


def _swap_workspace(archive_tar: Path, workspace: Path) -> int:
    """Unpack into a sibling folder, then swap it in, so the old files are never half replaced."""
    workspace.parent.mkdir(parents=True, exist_ok=True)
    fresh = workspace.with_name(f".{workspace.name}.restoring")
    old = workspace.with_name(f".{workspace.name}.previous")
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    fresh.mkdir(mode=0o700)
    with tarfile.open(archive_tar, mode="r:") as tar:
        tar.extractall(fresh, filter="data")
    count = sum(1 for p in fresh.rglob("*") if p.is_file())
    if workspace.exists():
        workspace.rename(old)
    fresh.rename(workspace)
    shutil.rmtree(old, ignore_errors=True)
    return count


@dataclass
class BackupService:
    settings: Settings
    pool: asyncpg.Pool
    operations: Operations

    # ---- where things are

    @property
    def directory(self) -> Path:
        return _private_dir(self.settings.backup_dir)

    def path_of(self, name: str) -> Path:
        if not archive.NAME.match(name):
            raise NotFound(f"no backup named {name!r} (names look like nova-backup-<time>-<reason>-<id>.tar)")
        path = self.directory / name
        if not path.is_file():
            raise NotFound(f"no backup named {name!r}")
        return path

    async def _db_url(self) -> str:
        return self.settings.database_url

    async def tools(self) -> postgres.PgTools:
        version = await self._server_version()
        return await asyncio.to_thread(postgres.find_tools, postgres.major(version), self.settings.pg_bin_dir)

    async def _server_version(self) -> str:
        async with self.pool.acquire() as conn:
            return await postgres.server_version(conn)

    async def _redis_version(self) -> str:
        info = await self.operations.redis.info("server")
        return str(info.get("redis_version", "unknown"))

    # ---- listing

    async def list_backups(self) -> BackupList:
        def scan() -> list[BackupInfo]:
            found = []
            for path in sorted(self.directory.glob("nova-backup-*.tar"), reverse=True):
                if not archive.NAME.match(path.name):
                    continue
                try:
                    manifest = archive.read_manifest(path)
                except ValueError:
                    log.warning("backup_unreadable", name=path.name)
                    continue
                found.append(_info(path.name, path.stat().st_size, manifest))
            return found

        backups = await asyncio.to_thread(scan)
        backups.sort(key=lambda b: b.created_at, reverse=True)
        return BackupList(
            backups=backups, total=len(backups), total_size_bytes=sum(b.size_bytes for b in backups)
        )

    async def delete(self, name: str) -> None:
        path = self.path_of(name)
        await asyncio.to_thread(path.unlink)

    # ---- creating

    async def create(
        self,
        reason: BackupReason,
        *,
        include_env: bool = True,
        include_workspace: bool = True,
        progress: ProgressSink | None = None,
        locked: bool = False,
    ) -> BackupInfo:
        if locked:
            return await self._create(reason, include_env, include_workspace, progress)
        async with self.operations.exclusive("backup"):
            return await self._create(reason, include_env, include_workspace, progress)

    async def _create(
        self, reason: BackupReason, include_env: bool, include_workspace: bool, progress: ProgressSink | None
    ) -> BackupInfo:
        def emit(event: BackupProgress) -> None:
            if progress is not None:
                progress(event)

        tools = await self.tools()
        backup_id = uuid.uuid4().hex
        created_at = datetime.now(UTC)
        staging = _private_dir(self.directory / f".staging-{backup_id}")
        try:
            parts: dict[str, Path] = {}
            connection = postgres.Connection.from_url(await self._db_url())
            conn = await asyncpg.connect(await self._db_url())
            try:
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
                    tables_total = await conn.fetchval(
                        "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                    )
                    done = {"tables": 0}
                    dump_path = staging / archive.POSTGRES
                    emit(BackupProgress(phase=BackupPhase.STARTED, tables_total=tables_total))

                    def dumped(line: str) -> None:
                        if _DUMP_LINE.search(line):
                            done["tables"] += 1
                            size = dump_path.stat().st_size if dump_path.exists() else 0
                            emit(
                                BackupProgress(
                                    phase=BackupPhase.POSTGRES,
                                    bytes_written=size,
                                    tables_done=min(done["tables"], tables_total),
                                    tables_total=tables_total,
                                )
                            )

                    # The dump and the checksums read the same snapshot, concurrently.
                    dump = postgres.run_tool(
                        [
                            tools.pg_dump,
                            "--format=custom",
                            "--compress=6",
                            "--verbose",
                            f"--snapshot={snapshot}",
                            f"--file={dump_path}",
                            f"--dbname={connection.dsn}",
                        ],
                        connection,
                        on_stderr_line=dumped,
                    )
                    tables, _ = await asyncio.gather(postgres.table_stats(conn, method=CHECKSUM), dump)
                    server_version = await postgres.server_version(conn)
            finally:
                await conn.close()
            parts[archive.POSTGRES] = dump_path
            written = dump_path.stat().st_size

            emit(
                BackupProgress(
                    phase=BackupPhase.REDIS,
                    bytes_written=written,
                    tables_done=len(tables),
                    tables_total=len(tables),
                )
            )
            redis_path = staging / archive.REDIS
            redis_stats = await redis_state.dump_redis(self.settings.redis_url, redis_path)
            parts[archive.REDIS] = redis_path
            written += redis_path.stat().st_size

            env_section = EnvSection(included=False, reason="left out by choice")
            if include_env:
                emit(BackupProgress(phase=BackupPhase.ENV, bytes_written=written))
                env_section = await asyncio.to_thread(self._seal_env, staging, backup_id, parts)
                if env_section.included:
                    written += parts[archive.ENV].stat().st_size

            workspace_files = 0
            if include_workspace:
                emit(BackupProgress(phase=BackupPhase.WORKSPACE, bytes_written=written))
                workspace_path = staging / archive.WORKSPACE
                workspace_files = await asyncio.to_thread(
                    _pack_workspace, self.settings.workspace, workspace_path
                )
                parts[archive.WORKSPACE] = workspace_path
                written += workspace_path.stat().st_size

            emit(BackupProgress(phase=BackupPhase.ARCHIVE, bytes_written=written))
            members = []
            for name, path in parts.items():
                digest = await asyncio.to_thread(archive.sha256_file, path)
                members.append(ArchiveMember(name=name, size=path.stat().st_size, sha256=digest))
            manifest = BackupManifest(
                id=backup_id,
                created_at=created_at,
                reason=reason,
                nova_version=__version__,
                postgres_server_version=server_version,
                pg_dump_version=tools.version,
                redis_version=await self._redis_version(),
                tables=tables,
                table_checksum=CHECKSUM,
                redis=redis_stats,
                workspace_files=workspace_files,
                env=env_section,
                members=members,
            )
            name = archive.archive_name(created_at, reason.value, backup_id)
            size = await asyncio.to_thread(archive.write_archive, self.directory / name, manifest, parts)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
        info = _info(name, size, manifest)
        log.info("backup_created", name=name, size=size, reason=reason.value)
        emit(
            BackupProgress(
                phase=BackupPhase.DONE,
                bytes_written=size,
                tables_done=len(tables),
                tables_total=len(tables),
                backup=info,
            )
        )
        return info

    def _seal_env(self, staging: Path, backup_id: str, parts: dict[str, Path]) -> EnvSection:
        if not self.settings.admin_secret_usable:
            return EnvSection(
                included=False, reason="NOVA_ADMIN_SECRET is unset, so nothing could seal the keys"
            )
        values = envfile.restorable_env(self.settings.env_file)
        if not values:
            return EnvSection(included=False, reason=f"{self.settings.env_file} has no keys to keep")
        path = staging / archive.ENV
        path.write_bytes(envfile.seal_env(values, self.settings.admin_secret.get_secret_value(), backup_id))
        parts[archive.ENV] = path
        return EnvSection(included=True, keys=sorted(values))

    # ---- checking and uploading

    async def check(self, name: str) -> ArchiveCheck:
        path = self.path_of(name)
        return await self._check_path(path, name)

    async def _check_path(self, path: Path, name: str) -> ArchiveCheck:
        tools = await self.tools()
        manifest, problems = await asyncio.to_thread(
            archive.check_archive, path, pg_restore_major=postgres.major(tools.version)
        )
        return ArchiveCheck(name=name, ok=not problems, problems=problems, manifest=manifest)

    async def upload(self, request: Request) -> BackupInfo:
        """Stream an uploaded archive to disk, verify it whole, and keep it under its manifest's name."""
        limit = self.settings.backup_upload_max_bytes
        partial = self.directory / f".upload-{uuid.uuid4().hex}.part"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(descriptor, "wb") as out:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(f"a backup upload may be at most {limit} bytes")
                    await asyncio.to_thread(out.write, chunk)
            if size == 0:
                raise BadRequest("the upload is empty: send the archive as the request body")
            checked = await self._check_path(partial, "upload")
            if not checked.ok or checked.manifest is None:
                raise BadRequest(
                    "the uploaded file is not a usable Nova backup: " + "; ".join(checked.problems)
                )
            manifest = checked.manifest
            name = archive.archive_name(manifest.created_at, manifest.reason.value, manifest.id)
            target = self.directory / name
            if target.exists():
                raise Conflict(f"backup {name} is already here")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return _info(name, size, manifest)

    # ---- restoring

    @property
    def marker(self) -> Path:
        return self.directory / RESTORE_MARKER

    async def restore(self, name: str, *, restore_env: bool = False) -> RestoreReport:
        path = self.path_of(name)
        async with self.operations.exclusive("restore"):
            checked = await self._check_path(path, name)
            if not checked.ok or checked.manifest is None:
                raise BadRequest(f"backup {name} cannot be restored: " + "; ".join(checked.problems))
            manifest = checked.manifest
            env_values: dict[str, str] | None = None
            if restore_env:
                env_values = await self._open_env(path, manifest)
            safety = await self.create(BackupReason.BEFORE_RESTORE, locked=True)
            await asyncio.to_thread(
                self._write_marker,
                {
                    "restoring": name,
                    "safety_backup": safety.name,
                    "started_at": datetime.now(UTC).isoformat(),
                },
            )
            try:
                report = await self._apply(path, manifest, safety_backup=safety.name)
            except NovaError as exc:
                await self._roll_back(safety.name)
                raise UpstreamUnavailable(
                    f"restoring {name} failed ({exc.detail}); the state from before it was put back "
                    f"from {safety.name}"
                ) from exc
            if env_values is not None:
                report.env_keys_written = await asyncio.to_thread(
                    envfile.update_env_file, self.settings.env_file, env_values
                )
                report.restart_needed = _ENV_READERS
            await asyncio.to_thread(self.marker.unlink, True)
        log.info("backup_restored", name=name, matches=report.matches, safety_backup=safety.name)
        return report

    async def _roll_back(self, safety: str) -> None:
        """Put the safety backup back after a restore that failed part-way (a crash is handled at start)."""
        path = self.path_of(safety)
        checked = await self._check_path(path, safety)
        if checked.manifest is None or not checked.ok:
            raise RuntimeError(
                f"the safety backup {safety} cannot be restored: {'; '.join(checked.problems)}"
            )
        await self._apply(path, checked.manifest, safety_backup=None)
        await asyncio.to_thread(self.marker.unlink, True)
        log.warning("restore_rolled_back", safety_backup=safety)

    def _write_marker(self, content: dict[str, str]) -> None:
        temp = self.marker.with_suffix(".tmp")
        temp.write_text(json.dumps(content))
        temp.chmod(0o600)
        os.replace(temp, self.marker)

    async def _open_env(self, path: Path, manifest: BackupManifest) -> dict[str, str]:
        if not manifest.env.included:
            raise BadRequest(
                f"this backup holds no .env keys ({manifest.env.reason}); restore with restore_env=false"
            )
        if not self.settings.admin_secret_usable:
            raise BadRequest("NOVA_ADMIN_SECRET is unset, so the archive's .env keys cannot be opened")
        staging = _private_dir(self.directory / f".env-{uuid.uuid4().hex}")
        try:
            parts = await asyncio.to_thread(archive.extract_parts, path, [archive.ENV], staging)
            return envfile.open_env(
                parts[archive.ENV].read_bytes(), self.settings.admin_secret.get_secret_value(), manifest.id
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    async def _apply(
        self, path: Path, manifest: BackupManifest, *, safety_backup: str | None
    ) -> RestoreReport:
        tools = await self.tools()
        staging = _private_dir(self.directory / f".restore-{uuid.uuid4().hex}")
        names = [m.name for m in manifest.members if m.name != archive.ENV]
        # The parts are copied out while the writers settle into maintenance, not before.
        extracting = asyncio.ensure_future(asyncio.to_thread(archive.extract_parts, path, names, staging))
        try:
            async with self.operations.maintenance("restore"):
                parts = await extracting
                connection = postgres.Connection.from_url(await self._db_url())
                await asyncio.wait_for(
                    postgres.run_tool(
                        [
                            tools.pg_restore,
                            "--clean",
                            "--if-exists",
                            "--single-transaction",
                            "--exit-on-error",
                            "--no-owner",
                            "--no-privileges",
                            f"--dbname={connection.dsn}",
                            str(parts[archive.POSTGRES]),
                        ],
                        connection,
                    ),
                    timeout=self.settings.restore_timeout_seconds,
                )
                async with self.pool.acquire() as conn:
                    ended = await postgres.end_other_sessions(conn)
                log.info("restore_sessions_ended", sessions=ended)
                if archive.REDIS in parts:
                    await redis_state.restore_redis(self.settings.redis_url, parts[archive.REDIS])
                workspace_files = 0
                if archive.WORKSPACE in parts:
                    workspace_files = await asyncio.to_thread(
                        _swap_workspace, parts[archive.WORKSPACE], self.settings.workspace
                    )
            return await self._compare(path.name, manifest, safety_backup, workspace_files)
        finally:
            await asyncio.gather(extracting, return_exceptions=True)  # done writing before its folder goes
            await asyncio.to_thread(shutil.rmtree, staging, True)

    async def _compare(
        self, name: str, manifest: BackupManifest, safety_backup: str | None, workspace_files: int
    ) -> RestoreReport:
        now = {t.name: t for t in await postgres.table_stats_now(self.pool, manifest.table_checksum)}
        tables = [
            TableComparison(
                name=t.name,
                expected_rows=t.rows,
                actual_rows=now[t.name].rows if t.name in now else None,
                checksum_matches=t.name in now and now[t.name].checksum == t.checksum,
            )
            for t in manifest.tables
        ]
        current_redis = {
            r.db: r
            for r in await redis_state.current_stats(self.settings.redis_url, sorted(REDIS_DB_MAP.values()))
        }
        redis = [
            RedisComparison(
                db=r.db,
                expected_keys=r.keys,
                actual_keys=current_redis[r.db].keys if r.db in current_redis else 0,
                checksum_matches=r.db in current_redis and current_redis[r.db].checksum == r.checksum,
            )
            for r in manifest.redis
        ]
        matches = all(t.checksum_matches and t.actual_rows == t.expected_rows for t in tables) and all(
            r.checksum_matches for r in redis
        )
        return RestoreReport(
            restored=name,
            safety_backup=safety_backup,
            matches=matches,
            tables=tables,
            redis=redis,
            workspace_files=workspace_files,
        )

    async def resume_interrupted_restore(self) -> RestoreReport | None:
        """At startup: a restore that never finished is undone by restoring its safety backup."""
        if not self.marker.exists():
            return None
        content = json.loads(self.marker.read_text())
        safety = content.get("safety_backup", "")
        log.warning("restore_interrupted", restoring=content.get("restoring"), safety_backup=safety)
        async with self.operations.exclusive("restore", force=True):
            path = self.path_of(safety)
            checked = await self._check_path(path, safety)
            if not checked.ok or checked.manifest is None:
                raise RuntimeError(
                    f"the safety backup {safety} cannot be restored: {'; '.join(checked.problems)}"
                )
            report = await self._apply(path, checked.manifest, safety_backup=None)
            self.marker.unlink(missing_ok=True)
        log.warning("restore_rolled_back", safety_backup=safety, matches=report.matches)
        return report
