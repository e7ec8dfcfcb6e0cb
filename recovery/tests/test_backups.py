"""Backups and restores through the HTTP API, against the real PostgreSQL, Redis and pg_dump/pg_restore."""

import asyncio
import base64
import gzip
import io
import json
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from fastapi.testclient import TestClient

from nova_common.maintenance import READERS_KEY, MaintenanceFlag
from nova_common.redis import redis_url_for
from nova_contracts.recovery import TableChecksum
from recovery.backups import archive, postgres
from recovery.config import Settings

Snapshot = Callable[[], tuple[Any, Any]]


def _wipe(database_url: str, redis_url: str, workspace: Path) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            tables = [
                r["tablename"]
                for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
            await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
            await conn.execute("DROP TABLE goal_comments")
        finally:
            await conn.close()

    asyncio.run(go())
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.set("nova:stray", "added after the backup")
    client.close()
    for path in sorted(workspace.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (workspace / "new.txt").write_text("made after the backup")


def _change_something(database_url: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("UPDATE goals SET title = 'changed after the backup'")
        finally:
            await conn.close()

    asyncio.run(go())


def test_round_trip_brings_back_every_row_redis_key_and_workspace_file(
    client: TestClient,
    make_backup: Callable[..., str],
    snapshot: Snapshot,
    admin: dict[str, str],
    recovery_settings: Settings,
) -> None:
    before = snapshot()
    assert before[0]["memories"] and before[0]["messages"] and before[0]["pipeline_tasks"]
    name = make_backup()

    _wipe(recovery_settings.database_url, recovery_settings.redis_url, recovery_settings.workspace)
    assert snapshot() != before

    response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["matches"] is True
    assert all(t["checksum_matches"] for t in report["tables"])
    assert {t["name"]: t["actual_rows"] for t in report["tables"]}["memories"] == 20
    assert report["safety_backup"].endswith(".tar")
    assert snapshot() == before
    workspace = recovery_settings.workspace
    assert (workspace / "project" / "notes.md").read_text() == "# notes\n"
    assert not (workspace / "new.txt").exists()


def test_a_restore_while_services_read_the_maintenance_flag_matches_and_keeps_their_bookkeeping(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    """Every service reads the flag about once a second, and each read writes its reader's entries next to the
    flag in DB 1. Those entries are not the stack's data: a backup leaves them out, a restore neither deletes
    nor replaces them (it waits on them), and a read during the restore does not make its comparison fail."""
    stop = threading.Event()
    reads = 0

    def read_the_flag() -> None:
        nonlocal reads

        async def go() -> None:
            nonlocal reads
            flag = MaintenanceFlag.for_stack(recovery_settings.redis_url, cache_seconds=0)
            try:
                while not stop.is_set():
                    await flag.active()
                    reads += 1
                    await asyncio.sleep(0.005)
            finally:
                await flag.aclose()

        asyncio.run(go())

    reader = threading.Thread(target=read_the_flag, daemon=True)
    reader.start()
    try:
        name = make_backup()
        response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["matches"] is True, report
        during = reads
    finally:
        stop.set()
        reader.join(timeout=10)
    assert during > 10
    config_db = redis.Redis.from_url(redis_url_for("llm-gateway", recovery_settings.redis_url))
    try:
        assert config_db.hlen(READERS_KEY) >= 1
    finally:
        config_db.close()
    with tarfile.open(recovery_settings.backup_dir / name) as tar:
        part = tar.extractfile(archive.REDIS)
        assert part is not None
        lines = gzip.decompress(part.read()).decode().splitlines()
    keys = {base64.b64decode(json.loads(line)["key"]).decode() for line in lines}
    assert keys and not {k for k in keys if k.startswith("nova:system:maintenance")}


def test_restore_disconnects_other_services_sessions_so_none_keeps_plans_of_the_old_tables(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    """A service's pooled connection caches prepared statements; after the restore recreated the tables they
    would fail (memory-service's first write answered 500). The restore ends such sessions; recovery's own
    pool goes on working."""
    name = make_backup()
    loop = asyncio.new_event_loop()
    try:
        service_session = loop.run_until_complete(
            asyncpg.connect(
                recovery_settings.database_url, server_settings={"application_name": "nova-memory-service"}
            )
        )
        assert loop.run_until_complete(service_session.fetchval("SELECT count(*) FROM memories")) == 20

        response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
        assert response.status_code == 200, response.text
        assert response.json()["matches"] is True

        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            loop.run_until_complete(service_session.fetchval("SELECT count(*) FROM memories"))
        # Recovery itself still answers from its pool.
        assert client.get("/api/v1/recovery/backups", headers=admin).status_code == 200
        loop.run_until_complete(service_session.close())
    finally:
        loop.close()


def test_backup_streams_progress_phases_and_lists_the_archive(
    client: TestClient, backup_events: Callable[..., list[dict[str, Any]]], admin: dict[str, str]
) -> None:
    events = backup_events(client)
    phases = [e["phase"] for e in events]
    assert phases[0] == "started" and phases[-1] == "done"
    assert {"postgres", "redis", "workspace", "archive"} <= set(phases)
    postgres = [e for e in events if e["phase"] == "postgres"]
    assert postgres[-1]["tables_done"] == postgres[-1]["tables_total"] > 10
    info = events[-1]["backup"]
    assert info["reason"] == "manual" and info["rows"] > 20 and info["redis_keys"] >= 7
    assert info["workspace_files"] == 2 and info["env_included"] is True

    listed = client.get("/api/v1/recovery/backups", headers=admin).json()
    assert [b["name"] for b in listed["backups"]] == [info["name"]]
    assert listed["total_size_bytes"] == info["size_bytes"]
    paged = client.get("/api/v1/recovery/backups?limit=1&offset=1", headers=admin).json()
    assert paged["backups"] == [] and paged["total"] == 1
    assert client.get("/api/v1/recovery/backups?limit=201", headers=admin).status_code == 422


def test_archive_is_private_and_holds_env_secrets_only_sealed(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    name = make_backup()
    path = recovery_settings.backup_dir / name
    assert path.stat().st_mode & 0o777 == 0o600
    raw = path.read_bytes()
    assert b"sk-ant-test-secret-value-42" not in raw
    assert b"test-service-token" not in raw
    with tarfile.open(path) as tar:
        assert tar.getnames()[0] == "manifest.json"
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["env"]["keys"] == ["ANTHROPIC_API_KEY", "NOVA_SERVICE_TOKEN"]  # no machine passwords
    assert {t["name"] for t in manifest["tables"]} >= {"memories", "messages", "api_keys", "pipeline_tasks"}


def test_restore_with_env_writes_the_sealed_keys_back_keeping_comments(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    name = make_backup()
    env_file = recovery_settings.env_file
    env_file.write_text(env_file.read_text().replace("sk-ant-test-secret-value-42", "sk-ant-rotated"))
    response = client.post(
        f"/api/v1/recovery/backups/{name}/restore", headers=admin, json={"restore_env": True}
    )
    assert response.status_code == 200, response.text
    assert response.json()["env_keys_written"] == ["ANTHROPIC_API_KEY", "NOVA_SERVICE_TOKEN"]
    assert "orchestrator" in response.json()["restart_needed"]
    text = env_file.read_text()
    assert "ANTHROPIC_API_KEY=sk-ant-test-secret-value-42" in text
    assert "# a provider key" in text and "POSTGRES_PASSWORD=machine-only-password-0000" in text
    assert env_file.stat().st_mode & 0o777 == 0o600


def _member_offset(path: Path, member: str) -> tuple[int, int]:
    with tarfile.open(path) as tar:
        info = tar.getmember(member)
        return info.offset_data, info.size


def test_tampered_archive_is_refused_and_nothing_changes(
    client: TestClient,
    make_backup: Callable[..., str],
    snapshot: Snapshot,
    admin: dict[str, str],
    recovery_settings: Settings,
) -> None:
    name = make_backup()
    path = recovery_settings.backup_dir / name
    offset, size = _member_offset(path, "postgres.dump")
    data = bytearray(path.read_bytes())
    data[offset + size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    _change_something(recovery_settings.database_url)
    before = snapshot()

    check = client.get(f"/api/v1/recovery/backups/{name}/check", headers=admin).json()
    assert check["ok"] is False and "postgres.dump" in check["problems"][0]
    response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
    assert response.status_code == 400
    assert "does not match its checksum" in response.json()["detail"]
    assert snapshot() == before
    # Refused before the safety backup: nothing new in the list either.
    assert [b["name"] for b in client.get("/api/v1/recovery/backups", headers=admin).json()["backups"]] == [
        name
    ]


def test_truncated_archive_is_refused_and_nothing_changes(
    client: TestClient,
    make_backup: Callable[..., str],
    snapshot: Snapshot,
    admin: dict[str, str],
    recovery_settings: Settings,
) -> None:
    name = make_backup()
    path = recovery_settings.backup_dir / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _change_something(recovery_settings.database_url)
    before = snapshot()
    response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
    assert response.status_code == 400
    assert "truncated" in response.json()["detail"]
    assert snapshot() == before


def test_upload_keeps_a_valid_archive_and_refuses_foreign_and_truncated_ones(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    name = make_backup()
    path = recovery_settings.backup_dir / name
    archive = path.read_bytes()
    path.unlink()

    uploaded = client.post("/api/v1/recovery/backups/upload", headers=admin, content=archive)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["name"] == name
    assert client.post("/api/v1/recovery/backups/upload", headers=admin, content=archive).status_code == 409

    foreign = io.BytesIO()
    with tarfile.open(fileobj=foreign, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    refused = client.post("/api/v1/recovery/backups/upload", headers=admin, content=foreign.getvalue())
    assert refused.status_code == 400 and "not a Nova backup" in refused.json()["detail"]
    truncated = client.post(
        "/api/v1/recovery/backups/upload", headers=admin, content=archive[: len(archive) // 3]
    )
    assert truncated.status_code == 400
    not_tar = client.post("/api/v1/recovery/backups/upload", headers=admin, content=b"x" * 5000)
    assert not_tar.status_code == 400
    leftovers = [p.name for p in recovery_settings.backup_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_download_returns_the_archive_and_delete_removes_it(
    client: TestClient, make_backup: Callable[..., str], admin: dict[str, str], recovery_settings: Settings
) -> None:
    name = make_backup()
    downloaded = client.get(f"/api/v1/recovery/backups/{name}", headers=admin)
    assert downloaded.status_code == 200
    assert downloaded.content == (recovery_settings.backup_dir / name).read_bytes()
    assert client.delete(f"/api/v1/recovery/backups/{name}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/recovery/backups/{name}", headers=admin).status_code == 404
    assert client.get("/api/v1/recovery/backups/..%2F.env", headers=admin).status_code == 404


def test_a_second_operation_while_one_runs_gets_409(
    client: TestClient, admin: dict[str, str], redis_base_url: str
) -> None:
    held = redis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/7")
    held.set(
        "nova:recovery:operation",
        json.dumps({"token": "x", "operation": "restore", "started_at": "now"}),
        px=60_000,
    )
    held.close()
    response = client.post("/api/v1/recovery/backups", headers=admin)
    assert response.status_code == 409
    assert "restore is already running" in response.json()["detail"]


def test_backup_routes_need_the_admin_secret(client: TestClient) -> None:
    name = "nova-backup-20260101T000000Z-manual-0123abcd.tar"
    calls = [
        ("POST", "/api/v1/recovery/backups"),
        ("GET", "/api/v1/recovery/backups"),
        ("POST", "/api/v1/recovery/backups/upload"),
        ("GET", f"/api/v1/recovery/backups/{name}"),
        ("GET", f"/api/v1/recovery/backups/{name}/check"),
        ("POST", f"/api/v1/recovery/backups/{name}/restore"),
        ("DELETE", f"/api/v1/recovery/backups/{name}"),
    ]
    for method, path in calls:
        assert client.request(method, path).status_code == 401, (method, path)
        wrong = client.request(method, path, headers={"X-Admin-Secret": "wrong-secret-0123456789"})
        assert wrong.status_code == 401, (method, path)


def test_restore_failing_part_way_puts_the_old_state_back_and_says_so(
    client: TestClient,
    make_backup: Callable[..., str],
    snapshot: Snapshot,
    admin: dict[str, str],
    recovery_settings: Settings,
) -> None:
    name = make_backup()
    # A view made after the backup depends on a table the dump replaces: pg_restore --clean cannot drop it.
    asyncio.run(
        _execute(recovery_settings.database_url, "CREATE VIEW goal_titles AS SELECT title FROM goals")
    )
    _change_something(recovery_settings.database_url)
    redis.Redis.from_url(recovery_settings.redis_url.rsplit("/", 1)[0] + "/2").set("nova:after", "kept")
    before = snapshot()

    response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "pg_restore failed" in detail and "put back" in detail
    assert snapshot() == before
    assert not (recovery_settings.backup_dir / "restore-in-progress.json").exists()


async def _execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def test_an_archive_checksummed_by_row_text_as_the_first_backups_were_still_restores_and_verifies(
    client: TestClient,
    make_backup: Callable[..., str],
    snapshot: Snapshot,
    admin: dict[str, str],
    recovery_settings: Settings,
    tmp_path: Path,
) -> None:
    """New backups hash each row's binary form; an archive written before that has text checksums and no
    `table_checksum` in its manifest, and its restore must compare by the text method, not report a mismatch."""
    before = snapshot()
    name = make_backup()
    path = recovery_settings.backup_dir / name
    manifest = archive.read_manifest(path)
    assert manifest.table_checksum == "row-binary"

    async def text_checksums() -> list[Any]:
        conn = await asyncpg.connect(recovery_settings.database_url)
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                return await postgres.table_stats(conn, method=TableChecksum.ROW_TEXT)
        finally:
            await conn.close()

    legacy = manifest.model_dump(mode="json", exclude={"table_checksum"})
    legacy["tables"] = [t.model_dump(mode="json") for t in asyncio.run(text_checksums())]
    assert legacy["tables"] != [t.model_dump(mode="json") for t in manifest.tables]
    (tmp_path / "parts").mkdir()
    parts = archive.extract_parts(path, [m.name for m in manifest.members], tmp_path / "parts")
    archive.write_archive(path, type(manifest).model_validate(legacy), parts)

    _wipe(recovery_settings.database_url, recovery_settings.redis_url, recovery_settings.workspace)
    response = client.post(f"/api/v1/recovery/backups/{name}/restore", headers=admin)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["matches"] is True, report
    assert snapshot() == before
