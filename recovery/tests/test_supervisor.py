"""The launcher's supervisor, driven by recovery: restart one process, start/stop a profile, read its logs.

The supervisor runs in its own process (it owns signal handling, as in `make run`), supervising real child
processes; recovery reaches it over loopback with the service token.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from recovery.config import Settings
from recovery.main import create_app

TOKEN = "test-service-token-0123456789"
CHATTY = "import itertools, sys, time\nfor i in itertools.count():\n    print('tick', i, flush=True)\n    time.sleep(0.05)"
DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nova_common.supervisor import Supervisor

    supervisor = Supervisor(service_token=sys.argv[1])
    supervisor.add_process("orchestrator", [sys.executable, "-c", sys.argv[3]])
    supervisor.add_process("chat-bridge", [sys.executable, "-c", sys.argv[3]], autostart=False)
    Path(sys.argv[2]).write_text(supervisor.control_url)
    supervisor.loop()
    sys.exit(supervisor.returncode or 0)
    """
)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    url_file = tmp_path / "control-url"
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, TOKEN, str(url_file), CHATTY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not url_file.exists() or not url_file.read_text():
        assert time.monotonic() < deadline and process.poll() is None, "the supervisor did not start"
        time.sleep(0.05)
    try:
        yield process, url_file.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _processes(url: str) -> dict[str, dict[str, object]]:
    body = httpx.get(f"{url}/processes", headers={"X-Service-Token": TOKEN}).json()
    return {p["name"]: p for p in body["processes"]}


def test_recovery_restarts_starts_stops_and_reads_logs_through_the_supervisor(
    supervisor: tuple[subprocess.Popen[bytes], str], recovery_settings: Settings, admin: dict[str, str]
) -> None:
    process, url = supervisor
    settings = recovery_settings.model_copy(update={"supervisor_url": url, "service_manager": "auto"})
    with TestClient(create_app(settings)) as client:
        listed = client.get("/api/v1/recovery/managed-services", headers=admin).json()
        assert listed["manager"] == "launcher"
        running = {s["name"]: s["running"] for s in listed["services"]}
        assert running == {"orchestrator": True, "chat-bridge": False}
        first_pid = _processes(url)["orchestrator"]["pid"]

        restarted = client.post("/api/v1/recovery/services/orchestrator/restart", headers=admin)
        assert restarted.status_code == 200, restarted.text
        after = _processes(url)["orchestrator"]
        assert after["running"] and after["pid"] != first_pid and after["restarts"] == 1
        assert process.poll() is None  # a restart is not a crash: the stack stays up

        time.sleep(0.5)  # let the new process print a few lines
        logs = client.get("/api/v1/recovery/services/orchestrator/logs?lines=5", headers=admin).json()
        assert len(logs["lines"]) == 5 and all(line.startswith("tick") for line in logs["lines"])

        assert client.post("/api/v1/recovery/profiles/bridges/start", headers=admin).status_code == 200
        assert _processes(url)["chat-bridge"]["running"] is True
        assert client.post("/api/v1/recovery/profiles/bridges/stop", headers=admin).status_code == 200
        assert _processes(url)["chat-bridge"]["running"] is False
        assert process.poll() is None


def test_supervisor_refuses_calls_without_the_service_token(
    supervisor: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, url = supervisor
    assert httpx.get(f"{url}/processes").status_code == 401
    assert (
        httpx.post(
            f"{url}/processes/orchestrator/stop", headers={"X-Service-Token": "wrong-token-0123456789"}
        ).status_code
        == 401
    )
    rebound = httpx.get(f"{url}/processes", headers={"X-Service-Token": TOKEN, "Host": "evil.example"})
    assert rebound.status_code == 400
    assert _processes(url)["orchestrator"]["running"] is True


def test_sigterm_stops_the_stack_and_its_children(supervisor: tuple[subprocess.Popen[bytes], str]) -> None:
    process, url = supervisor
    child = _processes(url)["orchestrator"]["pid"]
    assert isinstance(child, int)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_process_exiting_on_its_own_stops_the_stack(tmp_path: Path) -> None:
    url_file = tmp_path / "control-url"
    driver = DRIVER.replace("autostart=False", "autostart=True")
    crashing = "import sys, time\ntime.sleep(0.5)\nsys.exit(3)"
    process = subprocess.Popen([sys.executable, "-c", driver, TOKEN, str(url_file), crashing])
    try:
        assert process.wait(timeout=60) == 3  # the crashed process's code, as honcho reported it
    finally:
        if process.poll() is None:
            process.kill()
