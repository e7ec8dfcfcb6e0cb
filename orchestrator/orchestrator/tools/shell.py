"""`run_shell`: a command in the sandbox root, with a timeout and a denylist of dangerous prefixes.

The denylist is defence in depth, not the boundary: it stops the obvious destructive or privileged
commands (also behind `;`, `&&`, pipes, `$(…)` and wrappers such as `env`/`nohup`/`sh -c`), while the sandbox
tier decides where the command runs and the isolated tier refuses shell access outright.
"""

import asyncio
import contextlib
import os
import re
import shlex
import signal
from pathlib import Path
from typing import Any

from nova_contracts.orchestrator import SandboxTier
from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg
from orchestrator.tools.sandbox import Sandbox, SandboxViolation

MAX_STREAM_CHARS = 8_000

# First words that are refused wherever they appear as a command.
DENIED_COMMANDS = frozenset(
    {
        "sudo", "su", "doas", "pkexec", "shutdown", "reboot", "halt", "poweroff", "init", "telinit",
        "systemctl", "service", "dd", "fdisk", "sfdisk", "parted", "mkswap", "swapoff", "mount", "umount",
        "chroot", "crontab", "iptables", "nft", "killall", "pkill", "useradd", "userdel", "passwd", "visudo",
    }
)  # fmt: skip
DENIED_COMMAND_PREFIXES = ("mkfs",)
# Whole-command patterns: fork bombs and "download and run".
DENIED_PATTERNS = (
    (re.compile(r":\s*\(\s*\)\s*\{"), "a fork bomb"),
    (re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b"), "piping a download into a shell"),
    (re.compile(r">\s*/dev/(sd|nvme|hd|vd)"), "writing to a raw disk"),
)
WRAPPERS = frozenset(
    {"env", "nohup", "exec", "time", "command", "builtin", "nice", "xargs", "stdbuf", "timeout"}
)
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
_SEGMENT_SPLIT = re.compile(r"&&|\|\||[;&|\n`()]|\$\(")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
HARMLESS_DEVICES = frozenset({"/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/zero"})
DANGEROUS_RM_TARGETS = frozenset({"/", "/*", "~", "~/", "$home", "${home}", ".", "..", "*"})


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment)
    except ValueError:
        return segment.split()


def _strip_wrappers(words: list[str]) -> list[str]:
    while words:
        head = os.path.basename(words[0]).lower()
        if _ASSIGNMENT.match(words[0]):
            words = words[1:]
        elif head in WRAPPERS:
            words = words[1:]
            # `timeout 5 cmd`, `nice -n 5 cmd`: drop the wrapper's own options and numbers.
            while words and (words[0].startswith("-") or words[0].replace(".", "").isdigit()):
                words = words[1:]
        elif head in SHELLS and len(words) >= 3 and words[1] == "-c":
            return _strip_wrappers(_words(words[2]))
        else:
            return words
    return words


def _rm_is_dangerous(words: list[str]) -> bool:
    flags = "".join(w.lstrip("-") for w in words[1:] if w.startswith("-") and not w.startswith("--"))
    long_flags = {w for w in words[1:] if w.startswith("--")}
    recursive = "r" in flags.lower() or "--recursive" in long_flags
    targets = {w.lower().rstrip("/") or "/" for w in words[1:] if not w.startswith("-")}
    return recursive and bool(targets & DANGEROUS_RM_TARGETS)


def denied_reason(command: str) -> str | None:
    """Why `command` is refused, or None when it may run."""
    for pattern, what in DENIED_PATTERNS:
        if pattern.search(command):
            return what
    for segment in _SEGMENT_SPLIT.split(command):
        words = _strip_wrappers(_words(segment.strip()))
        if not words:
            continue
        head = os.path.basename(words[0]).lower()
        if head in DENIED_COMMANDS or head.startswith(DENIED_COMMAND_PREFIXES):
            return f"`{head}` is on the denylist"
        if head == "rm" and _rm_is_dangerous(words):
            return "recursive removal of a root, home or whole directory"
        if head == "kill" and "-1" in words[1:]:
            return "killing every process"
        if head in {"chmod", "chown"} and any(w in {"/", "/*"} for w in words[1:]):
            return f"`{head}` on the filesystem root"
    return None


def _path_words(command: str) -> list[str]:
    """Arguments that name a path outright (absolute, home-relative or climbing with `..`)."""
    found = []
    for segment in _SEGMENT_SPLIT.split(command):
        words = _strip_wrappers(_words(segment.strip()))
        for word in words[1:]:
            value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
            if value in HARMLESS_DEVICES:
                continue
            if value.startswith(("/", "~")) or ".." in Path(value).parts:
                found.append(value)
    return found


def escaping_path(command: str, sandbox: Sandbox) -> str | None:
    """A path argument of `command` that lands outside the sandbox, if any.

    A heuristic on top of the working directory: it catches `cat /etc/passwd` and `ls ../..`, not a path
    assembled at run time. Hard confinement of arbitrary commands needs a container, which is what the
    isolated tier would run.
    """
    if sandbox.tier is SandboxTier.HOST:
        return None
    root = str(sandbox.require_root())
    for value in _path_words(command):
        # Commands run with HOME set to the sandbox root, so `~/x` is inside; `~alice` is not.
        if value == "~" or value.startswith("~/"):
            value = root + value[1:]
        elif value.startswith("~"):
            return value
        try:
            sandbox.resolve(value)
        except SandboxViolation:
            return value
    return None


def _clip(text: bytes) -> str:
    decoded = text.decode("utf-8", errors="replace")
    if len(decoded) > MAX_STREAM_CHARS:
        return decoded[:MAX_STREAM_CHARS] + f"\n… ({len(decoded) - MAX_STREAM_CHARS} more characters)"
    return decoded


async def run_command(
    argv: list[str], *, cwd: str, time_limit: float, env: dict[str, str] | None = None
) -> tuple[int | None, bytes, bytes]:
    """Run a process in its own session; on timeout kill the whole group. Exit code None means timed out."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), time_limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = await process.communicate()
        return None, stdout, stderr
    return process.returncode, stdout, stderr


def shell_env(home: str) -> dict[str, str]:
    # Nothing of the orchestrator's own environment (secrets, database URLs) reaches the command.
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }


async def run_shell(args: dict[str, Any], ctx: ToolContext) -> str:
    command = string_arg(args, "command")
    root = ctx.sandbox.require_root()
    reason = denied_reason(command)
    if reason:
        raise ToolError(f"refused: {reason}")
    outside = escaping_path(command, ctx.sandbox)
    if outside:
        raise SandboxViolation(f"refused: {outside!r} is outside the {ctx.sandbox.tier.value} sandbox")
    limit = int(ctx.shell_timeout)
    timeout = int_arg(args, "timeout_seconds", limit, low=1, high=limit)
    code, stdout, stderr = await run_command(
        ["/bin/sh", "-c", command], cwd=str(root), time_limit=timeout, env=shell_env(str(root))
    )
    status = f"timed out after {timeout}s (killed)" if code is None else f"exit code {code}"
    parts = [status]
    if stdout:
        parts.append("stdout:\n" + _clip(stdout))
    if stderr:
        parts.append("stderr:\n" + _clip(stderr))
    return "\n".join(parts)


SHELL_TOOLS = [
    Tool(
        "run_shell",
        "shell",
        "Run a shell command with the sandbox root as working directory. Privileged and destructive "
        "commands are refused; long commands are killed at the timeout.",
        schema(
            {"command": {"type": "string"}, "timeout_seconds": {"type": "integer", "minimum": 1}}, ["command"]
        ),
        run_shell,
    )
]
