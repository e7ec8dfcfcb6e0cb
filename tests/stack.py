"""Real Nova service processes for cross-service tests: `python -m <package>` on a free loopback port.

A `ServiceProcess` can be stopped and started again on the same port, which is how tests take a service
away and bring it back (an orchestrator restart while chat-api holds queued messages, for instance).
Each process logs to a file next to the test's tmp_path; the path is in every failure message.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from nova_common.embedded import free_port

# The values the kit's `nova_env` fixture puts in the environment, so in-process services agree with these.
STACK_ADMIN_SECRET = "test-admin-secret-0123456789"
STACK_SERVICE_TOKEN = "test-service-token-0123456789"


@dataclass
class ServiceProcess:
    package: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.package}-{self.port}.log"

    def start(self, *, ready_within: float = 90.0) -> "ServiceProcess":
        """Start and wait for `/health/live`. A process that exits while starting is started again until the
        deadline: a dependency restarted a moment ago (PostgreSQL recovering) refuses connections briefly."""
        deadline = time.monotonic() + ready_within
        while True:
            self._spawn()
            assert self.process is not None
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            if self.process.poll() is None:
                self.stop()
                raise RuntimeError(
                    f"{self.package} did not come up within {ready_within}s; log: {self.log_path}"
                )
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"{self.package} exited with {self.process.returncode}; log: {self.log_path}"
                )
            time.sleep(1.0)

    def _spawn(self) -> None:
        env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_FORMAT": "console",
            "NOVA_ADMIN_SECRET": STACK_ADMIN_SECRET,
            "NOVA_SERVICE_TOKEN": STACK_SERVICE_TOKEN,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.package],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_dir,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


@contextmanager
def service_process(package: str, env: dict[str, str], log_dir: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess(package, env, log_dir).start()
    try:
        yield service
    finally:
        service.stop()


def orchestrator_env(
    database_url: str, redis_url: str, *, gateway_url: str, workspace: Path
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LLM_GATEWAY_URL": gateway_url,
        # No memory-service in these stacks: the orchestrator answers without recalled memories.
        "MEMORY_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "NOVA_WORKSPACE": str(workspace),
        "REQUIRE_AUTH": "true",
    }
