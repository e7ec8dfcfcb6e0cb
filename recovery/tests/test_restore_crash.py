"""A restore killed with SIGKILL half-way: the next start of recovery puts the old state back, never a mix."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi.testclient import TestClient

from nova_common.embedded import free_port
from recovery.config import Settings
from recovery.main import create_app


def _sql(url: str, statement: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(go())


def test_restore_killed_mid_way_is_rolled_back_to_the_old_state_on_next_start(
    recovery_settings: Settings,
    nova_env: dict[str, str],
    admin: dict[str, str],
    snapshot: Callable[[], tuple[Any, Any]],
    tmp_path: Path,
) -> None:
    # Enough rows that pg_restore is still working when the process is killed.
    _sql(
        recovery_settings.database_url,
        "CREATE TABLE bulk AS SELECT g, md5(g::text) AS h FROM generate_series(1, 300000) g",
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": recovery_settings.database_url,
        "REDIS_URL": recovery_settings.redis_url,
        "NOVA_DATA_DIR": str(recovery_settings.data_dir),
        "NOVA_WORKSPACE": str(recovery_settings.workspace),
        "NOVA_ENV_FILE": str(recovery_settings.env_file),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    process = subprocess.Popen([sys.executable, "-m", "recovery"], env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers=admin, timeout=120) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/health/live").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "recovery did not start"
                time.sleep(0.2)
            with http.stream("POST", "/api/v1/recovery/backups") as response:
                assert response.status_code == 200
                lines = [line for line in response.iter_lines() if line.startswith("data:")]
            assert '"phase":"done"' in lines[-2]
            name = http.get("/api/v1/recovery/backups").json()["backups"][0]["name"]

            _sql(
                recovery_settings.database_url,
                "UPDATE goals SET title = 'the old state'; DELETE FROM bulk WHERE g > 1000",
            )
            old = snapshot()

            marker = recovery_settings.backup_dir / "restore-in-progress.json"
            threading.Thread(
                target=lambda: _swallow(lambda: http.post(f"/api/v1/recovery/backups/{name}/restore")),
                daemon=True,
            ).start()
            deadline = time.monotonic() + 120
            while not marker.exists():
                assert time.monotonic() < deadline, "the restore never started"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert marker.exists()
    # The next start resumes: the safety backup taken before the restore is put back before readiness.
    with TestClient(create_app(recovery_settings)) as client:
        assert not marker.exists()
        assert client.get("/health/ready").status_code == 200
    assert snapshot() == old


def _swallow(call: Callable[[], object]) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass  # the server was killed under this request: expected


def test_an_interrupted_restore_that_cannot_be_rolled_back_keeps_recovery_up_but_not_ready(
    recovery_settings: Settings,
) -> None:
    recovery_settings.backup_dir.mkdir(parents=True, exist_ok=True)
    marker = recovery_settings.backup_dir / "restore-in-progress.json"
    marker.write_text(
        '{"restoring": "x", "safety_backup": "nova-backup-20260101T000000Z-before-restore-00000000.tar"}'
    )
    with TestClient(create_app(recovery_settings)) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "restore" in str(ready.json())
        assert client.get("/api/v1/recovery/services").status_code == 200  # the startup screen still works
    assert marker.exists()
