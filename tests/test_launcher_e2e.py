"""`make run`'s launcher, for real: every core service on embedded PostgreSQL and Redis, stopped and restarted.

Runs on shifted ports (NOVA_PORT_OFFSET) with its own data folder and .env, so it never touches a stack a
developer may have running.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
from dotenv import dotenv_values

from nova_common.stack import SERVICES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
OFFSET = 20000
# The core services plus every opt-in profile, so each service of the seed boots here.
CORE = list(SERVICES)
READY_TIMEOUT = 240


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port + OFFSET}"


class Launcher:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if k not in ("DATABASE_URL", "REDIS_URL", "LOCAL_MODEL_URL")
            },
            "NOVA_PORT_OFFSET": str(OFFSET),
            "NOVA_DATA_DIR": str(workdir / "data"),
            "NOVA_ENV_FILE": str(workdir / ".env"),
            "COMPOSE_PROFILES": "bridges,knowledge,voice",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = (self.workdir / f"launcher-{self.runs}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nova_common.launcher", "run", "--root", str(ROOT)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def log(self, tail: int = 6000) -> str:
        return (self.workdir / f"launcher-{self.runs}.log").read_text(errors="replace")[-tail:]

    def wait_for_output(self, text: str, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(tail=10**7):
                return True
            time.sleep(0.5)
        return False

    def wait_ready(self) -> dict[str, float]:
        """Seconds until each core service answered ready."""
        started, ready_at = time.monotonic(), {}
        with httpx.Client(timeout=3) as client:
            while time.monotonic() - started < READY_TIMEOUT:
                assert self.proc is not None and self.proc.poll() is None, f"launcher exited:\n{self.log()}"
                for spec in CORE:
                    if spec.name in ready_at:
                        continue
                    path = {"dashboard": "/", "model-server": "/v1/models"}.get(spec.name, "/health/ready")
                    try:
                        if client.get(_url(spec.port) + path).status_code == 200:
                            ready_at[spec.name] = round(time.monotonic() - started, 1)
                    except httpx.HTTPError:
                        pass
                if len(ready_at) == len(CORE):
                    return ready_at
                time.sleep(1)
        missing = sorted({s.name for s in CORE} - set(ready_at))
        raise AssertionError(f"not ready after {READY_TIMEOUT}s: {missing}\n{self.log()}")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    if not (ROOT / "dashboard" / "dist" / "index.html").exists():
        pytest.fail("the dashboard is not built: run `make test` (it builds it) or `make dashboard`")
    runner = Launcher(tmp_path_factory.mktemp("stack"))
    yield runner
    if runner.proc is not None and runner.proc.poll() is None:
        runner.stop()


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_every_core_service_becomes_ready_and_serves_its_docs(launcher: Launcher) -> None:
    launcher.start()
    timings = launcher.wait_ready()
    print(f"\ncold start, seconds to ready: {timings}")
    env = dotenv_values(launcher.workdir / ".env")
    assert len(env["NOVA_ADMIN_SECRET"] or "") >= 32
    assert (launcher.workdir / ".env").stat().st_mode & 0o777 == 0o600
    assert launcher.wait_for_output("Nova is ready"), launcher.log()
    with httpx.Client(timeout=10) as client:
        for spec in CORE:
            if spec.package is None:
                continue
            docs = client.get(_url(spec.port) + "/docs")
            assert docs.status_code == 200 and "swagger" in docs.text.lower(), spec.name
            assert client.get(_url(spec.port) + "/openapi.json").json()["info"]["title"].startswith("Nova")
        overview = client.get(_url(3000) + "/recovery-api/api/v1/recovery/services").json()
        assert overview["ready"] == overview["total"], overview


def test_the_stack_requires_credentials_by_default_and_refuses_foreign_hosts(launcher: Launcher) -> None:
    with httpx.Client(timeout=10) as client:
        # No REQUIRE_AUTH in .env: API routes want a key even from this machine.
        assert client.get(_url(8000) + "/api/v1/agents").status_code == 401
        rebinding = client.get(_url(8000) + "/health/live", headers={"Host": "evil.example"})
        assert rebinding.status_code == 400, rebinding.text


async def test_embedded_postgres_and_redis_refuse_callers_without_the_password(launcher: Launcher) -> None:
    env = dotenv_values(launcher.workdir / ".env")
    assert len(env["REDIS_PASSWORD"] or "") >= 32
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://nova:wrong@127.0.0.1:{5432 + OFFSET}/nova")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=6379 + OFFSET).ping()
    assert redis.Redis(port=6379 + OFFSET, password=env["REDIS_PASSWORD"]).ping()
    data = launcher.workdir / "data"
    # Nobody else may list or read the data; the embedded PostgreSQL's own account may only pass through.
    assert data.stat().st_mode & 0o066 == 0
    for path in (data / "redis").rglob("*"):
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    assert (data / "redis").stat().st_mode & 0o777 == 0o700
    assert (data / "postgres").stat().st_mode & 0o777 == 0o700


async def test_data_survives_a_stop_and_restart(launcher: Launcher) -> None:
    env = dotenv_values(launcher.workdir / ".env")
    pg_url = f"postgresql://nova:{env['POSTGRES_PASSWORD']}@127.0.0.1:{5432 + OFFSET}/nova"
    conn = await asyncpg.connect(pg_url)
    await conn.execute(
        "INSERT INTO platform_config (key, value) VALUES ('e2e.marker', '\"kept\"') ON CONFLICT (key) DO NOTHING"
    )
    await conn.close()
    orchestrator_redis = redis.Redis(
        port=6379 + OFFSET, db=2, password=env["REDIS_PASSWORD"], decode_responses=True
    )
    orchestrator_redis.set("nova:e2e:marker", "kept")
    orchestrator_redis.close()

    assert launcher.stop() == 0
    for port in (8000, 8888, 3000, 5432, 6379, 11434):
        assert not _port_open(port + OFFSET), f"port {port + OFFSET} still open after stop"

    launcher.start()
    print(f"\nwarm start, seconds to ready: {launcher.wait_ready()}")
    conn = await asyncpg.connect(pg_url)
    assert await conn.fetchval("SELECT value FROM platform_config WHERE key = 'e2e.marker'") == '"kept"'
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") >= 1
    await conn.close()
    kept = redis.Redis(port=6379 + OFFSET, db=2, password=env["REDIS_PASSWORD"], decode_responses=True)
    assert kept.get("nova:e2e:marker") == "kept"
    assert launcher.stop() == 0


def test_a_port_in_use_is_named_instead_of_a_traceback(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 8100 + OFFSET + 1))
    holder.listen()
    try:
        env = {
            **os.environ,
            "NOVA_PORT_OFFSET": str(OFFSET + 1),
            "NOVA_DATA_DIR": str(tmp_path / "data"),
            "NOVA_ENV_FILE": str(tmp_path / ".env"),
        }
        result = subprocess.run(
            [sys.executable, "-m", "nova_common.launcher", "run", "--root", str(ROOT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.close()
    assert result.returncode == 1
    assert f"port {8100 + OFFSET + 1} (cortex)" in result.stderr
    assert "Traceback" not in result.stderr
