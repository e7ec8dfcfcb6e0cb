"""The status overview (public: counts and sizes only) and the diagnostics bundle (admin: what to attach
when asking for help, with every secret redacted)."""

import platform
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import structlog

from nova_common.envfile import read_env
from nova_contracts.recovery import BackupsStatus, DatabaseStatus, RecoveryStatus
from recovery import __version__
from recovery.backups.service import BackupService
from recovery.config import Settings
from recovery.envfile_editor import view as env_view
from recovery.services.managers import ServiceManager
from recovery.stack_status import stack_overview

log = structlog.get_logger("recovery.diagnostics")

_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]+@")
_SECRET_NAME = re.compile(r"(secret|token|password|api_key)", re.IGNORECASE)


def redact(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "****")
        return _URL_PASSWORD.sub(r"\1****@", value)
    return value


def _known_secrets(settings: Settings) -> tuple[str, ...]:
    """Values a log line must never carry into the bundle: our secrets and every secret-looking .env value."""
    values = [settings.admin_secret.get_secret_value(), settings.service_token.get_secret_value()]
    values += [v for k, v in read_env(settings.env_file).items() if _SECRET_NAME.search(k)]
    return tuple(v for v in values if len(v) >= 8)


async def _database(pool: asyncpg.Pool) -> DatabaseStatus:
    try:
        async with pool.acquire(timeout=3) as conn:
            size = await conn.fetchval("SELECT pg_database_size(current_database())")
            tables = await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
        return DatabaseStatus(connected=True, size_bytes=size, tables=tables)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return DatabaseStatus(connected=False)


async def status(settings: Settings, probe: httpx.AsyncClient, backups: BackupService) -> RecoveryStatus:
    overview = await stack_overview(settings, probe)
    listed = await backups.list_backups()
    running = await backups.operations.running()
    return RecoveryStatus(
        services_ready=overview.ready,
        services_total=overview.total,
        database=await _database(backups.pool),
        backups=BackupsStatus(
            count=listed.total,
            latest_at=listed.backups[0].created_at if listed.backups else None,
            total_size_bytes=listed.total_size_bytes,
        ),
        operation=running.get("operation") if running else None,
    )


async def bundle(
    settings: Settings, probe: httpx.AsyncClient, backups: BackupService, manager: ServiceManager | None
) -> dict[str, Any]:
    overview = await stack_overview(settings, probe)
    logs: dict[str, Any] = {}
    secrets = _known_secrets(settings)
    if manager is not None:
        try:
            for service in await manager.list_services():
                logs[service.name] = [
                    redact(line, secrets) for line in (await manager.logs(service.name, 200)).lines
                ]
        except Exception as exc:  # the bundle is for when things are broken: say what failed, keep going
            logs["_error"] = f"{type(exc).__name__}: {exc}"
    config = {
        name: ("****" if _SECRET_NAME.search(name) else redact(value))
        for name, value in settings.model_dump(mode="json").items()
    }
    async with backups.pool.acquire() as conn:
        postgres_version = await conn.fetchval("SHOW server_version")
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "versions": {
            "nova": __version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "postgres": postgres_version,
            "redis": (await backups.operations.redis.info("server")).get("redis_version"),
        },
        "services": overview.model_dump(mode="json"),
        "database": (await _database(backups.pool)).model_dump(mode="json"),
        "backups": (await backups.list_backups()).model_dump(mode="json"),
        "recovery_settings": config,
        "env": env_view(settings.env_file).model_dump(mode="json"),
        "service_manager": manager.kind if manager else None,
        "logs": logs,
    }
