"""The launcher's process supervisor: runs the stack's processes and lets recovery manage them.

It replaces honcho in `make run` for one reason: honcho cannot restart a single process. Behaviour kept
from honcho: every line a process prints is shown prefixed with its name; Ctrl-C / SIGTERM stops them all;
a process that exits on its own takes the whole stack down (a half-running stack hides the failure).
Added: a control endpoint on loopback (`control_url`, handed to the services as NOVA_SUPERVISOR_URL) that
restarts one process, starts or stops one (an opt-in profile's services are registered but not started),
and returns its recent log lines. Every call needs the stack's service token; without one the endpoint
refuses everything.
"""

import hmac
import json
import os
import re
import shlex
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from nova_common.auth import SERVICE_HEADER
from nova_common.config import MIN_SECRET_LENGTH

LOG_LINES_KEPT = 1000
STOP_GRACE_SECONDS = 10.0
_PATH = re.compile(r"^/processes(?:/([a-z0-9-]+)(?:/(restart|start|stop|logs))?)?$")
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
# Exit codes the launcher reports for "asked to stop" (as honcho did): 128 + signal number.
SIGNAL_RETURNCODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


@dataclass
class ManagedProcess:
    name: str
    argv: list[str]
    env: dict[str, str] | None
    cwd: str | None
    autostart: bool = True
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    # Set while the supervisor itself stops the process, so its exit does not stop the stack.
    expected_exit: bool = False
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES_KEPT))

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": self.running,
            "pid": self.popen.pid if self.running and self.popen else None,
            "restarts": self.restarts,
        }


class Supervisor:
    """Drop-in for the launcher's use of honcho's Manager (`add_process`, `loop`, `returncode`)."""

    def __init__(
        self, *, service_token: str, printer: Callable[[str], None] | None = None, control_port: int = 0
    ) -> None:
        self.service_token = service_token
        self.returncode: int | None = None
        self._processes: dict[str, ManagedProcess] = {}
        self._lock = threading.RLock()  # process control; held across a stop's grace period
        self._lines_lock = threading.Lock()  # log buffers, so output keeps flowing during a stop
        self._stopping = threading.Event()
        self._print = printer or (lambda line: print(line, flush=True))
        self._server = ThreadingHTTPServer(("127.0.0.1", control_port), _handler_for(self))
        self._server.daemon_threads = True

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- the honcho-compatible surface

    def add_process(
        self,
        name: str,
        cmd: str | list[str],
        quiet: bool = False,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        *,
        autostart: bool = True,
    ) -> ManagedProcess:
        argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        process = ManagedProcess(name, argv, env, cwd, autostart)
        self._processes[name] = process
        return process

    def loop(self) -> None:
        """Start the processes and the control endpoint; return when the stack has stopped."""

        def on_signal(signum: int, _: object) -> None:
            self._system(f"{signal.Signals(signum).name} received")
            if self.returncode is None:
                self.returncode = SIGNAL_RETURNCODES.get(signal.Signals(signum), 128 + signum)
            self._stopping.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threading.Thread(target=self._server.serve_forever, name="supervisor-control", daemon=True).start()
        try:
            for process in self._processes.values():
                if process.autostart:
                    self.start(process.name)
            while not self._stopping.wait(0.2):
                self._check_exits()
        finally:
            self._server.shutdown()
            self._server.server_close()
            for process in self._processes.values():
                self._stop(process)

    # ---- what the control endpoint offers

    def processes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [p.describe() for p in self._processes.values()]

    def get(self, name: str) -> ManagedProcess:
        try:
            return self._processes[name]
        except KeyError:
            raise LookupError(name) from None

    def start(self, name: str) -> ManagedProcess:
        with self._lock:
            process = self.get(name)
            if process.running:
                return process
            process.expected_exit = False
            process.popen = subprocess.Popen(
                process.argv,
                env=process.env,
                cwd=process.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own process group, so a stop reaches what it started too (npm's node, say).
                start_new_session=True,
            )
            threading.Thread(
                target=self._pump, args=(process, process.popen), name=f"log-{name}", daemon=True
            ).start()
            self._system(f"{name} started (pid={process.popen.pid})")
            return process

    def stop(self, name: str) -> ManagedProcess:
        with self._lock:
            process = self.get(name)
            self._stop(process)
            return process

    def restart(self, name: str) -> ManagedProcess:
        with self._lock:
            process = self.get(name)
            self._stop(process)
            process.restarts += 1
            return self.start(name)

    def recent_lines(self, name: str, count: int) -> list[str]:
        process = self.get(name)
        with self._lines_lock:
            lines = list(process.lines)
        return lines[-count:] if count > 0 else []

    # ---- internals

    def _stop(self, process: ManagedProcess) -> None:
        popen = process.popen
        if popen is None or popen.poll() is not None:
            return
        process.expected_exit = True
        self._signal_group(popen, signal.SIGTERM)
        try:
            popen.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self._signal_group(popen, signal.SIGKILL)
            popen.wait()
        self._system(f"{process.name} stopped (rc={popen.returncode})")

    @staticmethod
    def _signal_group(popen: subprocess.Popen[bytes], signum: int) -> None:
        try:
            os.killpg(popen.pid, signum)
        except ProcessLookupError:
            pass

    def _check_exits(self) -> None:
        with self._lock:
            for process in self._processes.values():
                popen = process.popen
                if popen is None or popen.poll() is None or process.expected_exit:
                    continue
                self._system(f"{process.name} exited on its own (rc={popen.returncode}); stopping the stack")
                process.expected_exit = True
                if self.returncode is None:
                    self.returncode = popen.returncode or 1
                self._stopping.set()

    def _pump(self, process: ManagedProcess, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        for raw in popen.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lines_lock:
                process.lines.append(line)
            self._print(f"{datetime.now():%H:%M:%S} {process.name:<16} | {line}")

    def _system(self, message: str) -> None:
        self._print(f"{datetime.now():%H:%M:%S} {'system':<16} | {message}")

    def authorised(self, token: str | None) -> bool:
        expected = self.service_token
        if len(expected) < MIN_SECRET_LENGTH or token is None:
            return False
        return hmac.compare_digest(token.encode(), expected.encode())


def _handler_for(supervisor: Supervisor) -> type[BaseHTTPRequestHandler]:
    class ControlHandler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # the control calls are not the stack's output

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if host not in _LOOPBACK_HOSTS:
                self._answer(400, {"detail": "the supervisor answers loopback names only"})
                return
            if not supervisor.authorised(self.headers.get(SERVICE_HEADER)):
                self._answer(401, {"detail": f"send the stack's {SERVICE_HEADER}"})
                return
            url = urlsplit(self.path)
            match = _PATH.match(url.path)
            if match is None:
                self._answer(404, {"detail": "unknown path"})
                return
            name, action = match.groups()
            try:
                if name is None and method == "GET":
                    self._answer(200, {"processes": supervisor.processes()})
                elif action == "logs" and method == "GET":
                    count = int(parse_qs(url.query).get("lines", ["200"])[0])
                    self._answer(
                        200, {"name": name, "lines": supervisor.recent_lines(name, min(count, 2000))}
                    )
                elif action in ("restart", "start", "stop") and method == "POST" and name is not None:
                    process = getattr(supervisor, action)(name)
                    self._answer(200, process.describe())
                else:
                    self._answer(405, {"detail": f"{method} is not allowed here"})
            except LookupError:
                self._answer(404, {"detail": f"no process {name!r} in this stack"})
            except ValueError:
                self._answer(400, {"detail": "lines must be a whole number"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return ControlHandler
