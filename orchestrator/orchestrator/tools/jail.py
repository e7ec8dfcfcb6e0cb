"""The jail the shell and git tools run in: bubblewrap, resource limits, output counted while it is read.

Every command of the `workspace` and `nova` tiers runs under `bwrap` in fresh user, mount, PID, network, IPC
and UTS namespaces: no network, a fresh `/proc` that shows only the jail's own processes, a minimal `/dev`, a
private `/tmp`, the system directories (`/usr`, `/bin`, `/lib*` and the few `/etc` files `sh` and `git` read)
read-only, and the sandbox root bound read-write at `/workspace`, the working directory. Nothing else of the
host filesystem exists inside. The `nova` tier also masks the checkout's secrets (`.env`, `data/`, keys,
`.git/config`) with empty files and directories. The `host` tier runs unjailed (admin-only, enforced where
tiers are chosen); `isolated` has no filesystem, so no shell.

Ownership: the command runs as uid/gid 65534 inside a user namespace that bubblewrap maps onto the uid the
orchestrator runs as (root when Nova runs as root, the unprivileged `nova` user in the Docker image). So the
jailed process is "nobody" to itself, has no capabilities anywhere, reaches only what is mounted in, and the
files it creates belong on the host to the service that owns the sandbox: the file tools and the next
command can read, change and delete them without any chown. The same arguments work as root and as a non-root user; a non-root user needs unprivileged
user namespaces (Docker's default seccomp profile forbids them: the orchestrator container needs
`security_opt: [seccomp=unconfined]` or a profile allowing `unshare`/`clone` with CLONE_NEWUSER).

Limits: `prlimit` sets CPU seconds, address space, processes and file size on bwrap, inherited by
everything inside. The process limit is RLIMIT_NPROC, which counts every process and thread of the host uid
(all of the service user's, not only the jail's), so it is set high enough not to starve the service and
only stops a runaway fork bomb; the kernel exempts host root from it, so a root-mapped jail is bounded by
the wall clock alone. The wall clock kills bwrap's process group; bwrap's `--die-with-parent` and the PID
namespace then take every jailed process with it. Output is counted while it is read: at the cap the
command is killed and the rest is read and dropped, so `yes` or `cat /dev/zero` cost a bounded amount of
memory.

Where no jail can be set up (bwrap or prlimit missing, or bwrap failing its self-test), `JailUnavailable`
says what is missing; nothing falls back to running unjailed.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova_contracts.orchestrator import SandboxTier
from orchestrator.tools.registry import ToolError
from orchestrator.tools.sandbox import JAIL_ROOT, Sandbox, secret_paths

# The jail's private tmpfs (not the host's /tmp): git's HOME, scratch space for commands.
JAIL_TMP = "/tmp"  # noqa: S108
JAIL_UID = 65534
# Read-only system paths that exist on the host; a symlinked one (merged /usr) is recreated as a symlink.
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
# What sh, coreutils and git read from /etc: accounts, the loader's cache, Debian's alternatives symlinks.
ETC_PATHS = (
    "/etc/passwd",
    "/etc/group",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/nsswitch.conf",
)
INSTALL_HINT = "apt-get install bubblewrap"


class JailUnavailable(ToolError):
    """No jail can be built on this machine; the shell and git tools refuse instead of running unjailed."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: int
    output_bytes: int = 256_000
    address_space_bytes: int = 2 << 30
    max_processes: int = 1024
    file_size_bytes: int = 256 << 20


@dataclass
class RunResult:
    """What a command left behind: exit code (None when it was killed), output, and why it was cut short."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    truncated: bool = False

    @property
    def output(self) -> bytes:
        return self.stdout + self.stderr


@dataclass
class _OutputBudget:
    remaining: int
    exceeded: asyncio.Event = field(default_factory=asyncio.Event)


def jail_path(sandbox: Sandbox, path: Path) -> str:
    """Where a host path inside the sandbox root appears inside the jail."""
    relative = path.relative_to(sandbox.require_root())
    return JAIL_ROOT if relative == Path(".") else f"{JAIL_ROOT}/{relative}"


def _system_binds() -> list[str]:
    args: list[str] = []
    for name in SYSTEM_DIRS:
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    for etc in ETC_PATHS:
        if os.path.lexists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def bwrap_arguments(
    bwrap: str,
    root: Path,
    *,
    masks: Sequence[tuple[Path, int | None]],
    cwd: str,
    env: dict[str, str],
) -> list[str]:
    """The bwrap command line up to the jailed argv (which follows `--`).

    `masks` are secrets under the root: a folder is covered by an empty tmpfs, a file by an empty read-only
    file whose (empty) content bwrap reads from the given descriptor. Binding /dev/null instead would leave
    a device node on a nodev mount: unreadable, and git stops at an unreadable config.
    """
    args = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--uid", str(JAIL_UID),
        "--gid", str(JAIL_UID),
        "--hostname", "nova-sandbox",
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", JAIL_TMP,
        *_system_binds(),
        "--bind", str(root), JAIL_ROOT,
    ]  # fmt: skip
    for mask, empty_fd in masks:
        inside = f"{JAIL_ROOT}/{mask.relative_to(root)}"
        args += ["--tmpfs", inside] if empty_fd is None else ["--ro-bind-data", str(empty_fd), inside]
    args += ["--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--"]


def _prlimit_arguments(prlimit: str, limits: Limits) -> list[str]:
    return [
        prlimit,
        f"--cpu={limits.cpu_seconds}",
        f"--as={limits.address_space_bytes}",
        f"--nproc={limits.max_processes}",
        f"--fsize={limits.file_size_bytes}",
        "--core=0",
        "--",
    ]


async def _drain(stream: asyncio.StreamReader, sink: bytearray, budget: _OutputBudget) -> None:
    """Keep what fits in the shared budget; past it, signal and read on without keeping anything.

    Reading on (rather than stopping) lets the pipe reach EOF once the command is killed; a reader that
    stopped would leave the pipe paused and the process never reaped.
    """
    while chunk := await stream.read(65_536):
        kept = chunk[: budget.remaining]
        sink += kept
        budget.remaining -= len(kept)
        if len(kept) < len(chunk):
            budget.exceeded.set()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# How long a killed command's pipes may take to close before we stop waiting for them: a jail's always
# close at once; an unjailed (host tier) daemon that left the process group may hold them forever.
_REAP_GRACE_SECONDS = 5


async def run_limited(
    argv: list[str],
    *,
    limits: Limits,
    env: dict[str, str],
    cwd: str | None = None,
    pass_fds: Sequence[int] = (),
) -> RunResult:
    """Run `argv` in its own process group; kill the group at the wall clock or when output passes the cap."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        env=env,
        pass_fds=pass_fds,
    )
    if process.stdout is None or process.stderr is None:  # both are PIPE; this narrows the types
        raise RuntimeError("subprocess pipes missing")
    budget = _OutputBudget(limits.output_bytes)
    stdout, stderr = bytearray(), bytearray()
    finished: asyncio.Future[Any] = asyncio.ensure_future(
        asyncio.gather(
            _drain(process.stdout, stdout, budget), _drain(process.stderr, stderr, budget), process.wait()
        )
    )
    capped: asyncio.Future[Any] = asyncio.ensure_future(budget.exceeded.wait())
    timed_out = truncated = False
    try:
        done, _ = await asyncio.wait(
            {finished, capped}, timeout=limits.wall_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        if finished not in done:
            truncated = capped in done
            timed_out = not truncated
            _kill_group(process.pid)
            await asyncio.wait({finished}, timeout=_REAP_GRACE_SECONDS)
    finally:
        capped.cancel()
        if not finished.done():
            _kill_group(process.pid)
            finished.cancel()
        await asyncio.gather(finished, capped, return_exceptions=True)
    code = None if (timed_out or truncated) else process.returncode
    return RunResult(code, bytes(stdout), bytes(stderr), timed_out=timed_out, truncated=truncated)


class Jail:
    """bubblewrap at one path, checked once by actually running a command in a jail."""

    def __init__(self, bwrap: str | None, prlimit: str | None) -> None:
        self.bwrap = bwrap
        self.prlimit = prlimit
        self._ready = False

    async def ensure_ready(self) -> None:
        if self._ready:
            return
        if self.bwrap is None:
            raise JailUnavailable(
                f"no sandbox jail: bubblewrap (bwrap) is not installed; the operator runs `{INSTALL_HINT}`"
            )
        if self.prlimit is None:
            raise JailUnavailable(
                "no sandbox jail: prlimit is missing; the operator runs `apt-get install util-linux`"
            )
        # Two first calls may both run the check: it is idempotent, and a lock would tie us to one loop.
        await self._self_test(self.bwrap)
        self._ready = True

    async def _self_test(self, bwrap: str) -> None:
        with tempfile.TemporaryDirectory(prefix="nova-jail-check-") as scratch:
            root = Path(scratch)
            argv = [
                *bwrap_arguments(bwrap, root, masks=[], cwd=JAIL_ROOT, env={"PATH": "/usr/bin:/bin"}),
                "/bin/sh", "-c", "echo ok > probe && cat probe",
            ]  # fmt: skip
            try:
                result = await run_limited(
                    argv, limits=Limits(wall_seconds=20, cpu_seconds=10), env={"PATH": "/usr/bin:/bin"}
                )
            except OSError as exc:
                raise JailUnavailable(f"no sandbox jail: {bwrap} cannot start ({exc})") from exc
            if result.exit_code != 0 or result.stdout.strip() != b"ok":
                reason = result.stderr.decode("utf-8", "replace").strip()[:300] or f"exit {result.exit_code}"
                raise JailUnavailable(
                    f"no sandbox jail: bubblewrap failed its self-test ({reason}); it needs user namespaces "
                    f"(as root, or unprivileged user namespaces allowed) and a recent bubblewrap "
                    f"(`{INSTALL_HINT}`)"
                )

    async def run(
        self, sandbox: Sandbox, argv: list[str], *, cwd: Path, env: dict[str, str], limits: Limits
    ) -> RunResult:
        await self.ensure_ready()
        if self.bwrap is None or self.prlimit is None:  # ensure_ready refused already; this narrows the types
            raise JailUnavailable("no sandbox jail")
        root = sandbox.require_root()
        secrets = await asyncio.to_thread(secret_paths, sandbox) if sandbox.hides_secrets else []
        # One descriptor per masked file: bwrap consumes each; /dev/null reads as the empty content.
        masks = [(path, None if path.is_dir() else os.open(os.devnull, os.O_RDONLY)) for path in secrets]
        descriptors = [fd for _, fd in masks if fd is not None]
        try:
            command = [
                *_prlimit_arguments(self.prlimit, limits),
                *bwrap_arguments(self.bwrap, root, masks=masks, cwd=jail_path(sandbox, cwd), env=env),
                *argv,
            ]
            # bwrap's own environment shows in the jail's /proc/1/environ: give it nothing of ours.
            return await run_limited(
                command,
                limits=limits,
                env={"PATH": env.get("PATH", "/usr/bin:/bin")},
                pass_fds=descriptors,
            )
        finally:
            for fd in descriptors:
                os.close(fd)


_jails: dict[tuple[str | None, str | None], Jail] = {}


def current_jail() -> Jail:
    """The jail for the bwrap and prlimit found on PATH now (installing bubblewrap needs no restart)."""
    key = (shutil.which("bwrap"), shutil.which("prlimit"))
    if key not in _jails:
        _jails[key] = Jail(*key)
    return _jails[key]


async def run_in_sandbox(
    sandbox: Sandbox, argv: list[str], *, cwd: Path, env: dict[str, str], limits: Limits
) -> RunResult:
    """Run a tool's process: jailed in every tier but `host`, whose commands run on the machine itself."""
    if sandbox.tier is SandboxTier.HOST:
        prlimit = shutil.which("prlimit")
        prefix = _prlimit_arguments(prlimit, limits) if prlimit else []
        return await run_limited([*prefix, *argv], limits=limits, env=env, cwd=str(cwd))
    return await current_jail().run(sandbox, argv, cwd=cwd, env=env, limits=limits)
