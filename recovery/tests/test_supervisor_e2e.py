"""Recovery restarts a service of a real `make run` stack through the launcher's supervisor (slow: one test)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
OFFSET = 21000  # apart from the other e2e stacks (tests/test_launcher_e2e.py checks all four)


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port + OFFSET}"


def _wait(predicate, timeout: float, launcher: subprocess.Popen[bytes], log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert launcher.poll() is None, "launcher exited:\n" + log.read_text(errors="replace")[-4000:]
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("timed out:\n" + log.read_text(errors="replace")[-4000:])


def test_recovery_restarts_cortex_of_a_running_launcher_stack_and_reads_its_logs(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "LOCAL_MODEL_URL")},
        "NOVA_PORT_OFFSET": str(OFFSET),
        "NOVA_DATA_DIR": str(tmp_path / "data"),
        "NOVA_ENV_FILE": str(tmp_path / ".env"),
        "COMPOSE_PROFILES": "",
    }
    log = tmp_path / "launcher.log"
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "nova_common.launcher", "run", "--root", str(ROOT)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        with httpx.Client(timeout=30) as client:
            _wait(
                lambda: (
                    client.get(_url(8888) + "/health/ready").status_code == 200
                    and client.get(_url(8100) + "/health/ready").status_code == 200
                ),
                300,
                launcher,
                log,
            )
            admin = {"X-Admin-Secret": dotenv_values(tmp_path / ".env")["NOVA_ADMIN_SECRET"] or ""}
            before = client.get(_url(8888) + "/api/v1/recovery/managed-services", headers=admin).json()
            assert before["manager"] == "launcher"
            cortex = next(s for s in before["services"] if s["name"] == "cortex")
            assert cortex["running"] and cortex["restarts"] == 0
            voice = next(s for s in before["services"] if s["name"] == "voice-service")
            assert voice["running"] is False  # an opt-in profile's service: registered, not started

            restarted = client.post(_url(8888) + "/api/v1/recovery/services/cortex/restart", headers=admin)
            assert restarted.status_code == 200, restarted.text
            _wait(lambda: client.get(_url(8100) + "/health/ready").status_code == 200, 120, launcher, log)
            after = client.get(_url(8888) + "/api/v1/recovery/managed-services", headers=admin).json()
            cortex_after = next(s for s in after["services"] if s["name"] == "cortex")
            assert cortex_after["restarts"] == 1 and cortex_after["pid"] != cortex["pid"]

            logs = client.get(_url(8888) + "/api/v1/recovery/services/cortex/logs?lines=50", headers=admin)
            assert logs.status_code == 200 and logs.json()["lines"]
        assert launcher.poll() is None  # the stack stayed up through the restart
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(90)
            except subprocess.TimeoutExpired:
                launcher.kill()
    assert launcher.returncode == 0
