"""`run_shell`: a command run by `/bin/sh` in the jail (`jail.py`), with the sandbox root as working directory.

The jail is the boundary: what the command can see, write, reach and spend. The denylist below only turns
away the obvious destructive or privileged commands early (also behind `;`, `&&`, pipes, `$(…)` and wrappers
such as `env`/`nohup`/`sh -c`), so a model that means well gets a clear answer instead of a jailed failure.
"""

import os
import re
import shlex
from typing import Any

from nova_contracts.orchestrator import SandboxTier
from orchestrator.tools.jail import JAIL_ROOT, Limits, run_in_sandbox
from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg

MAX_STREAM_CHARS = 8_000
MAX_OUTPUT_BYTES = 256_000
MAX_COMMAND_CHARS = 20_000

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


def _clip(text: bytes) -> str:
    decoded = text.decode("utf-8", errors="replace")
    if len(decoded) > MAX_STREAM_CHARS:
        return decoded[:MAX_STREAM_CHARS] + f"\n… ({len(decoded) - MAX_STREAM_CHARS} more characters)"
    return decoded


def shell_env(home: str) -> dict[str, str]:
    # Nothing of the orchestrator's own environment (secrets, database URLs) reaches the command.
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "TERM": "dumb"}


def _check_input(command: str) -> None:
    """Cheap checks before anything starts; the jail, not these, is what confines the command."""
    if "\x00" in command:
        raise ToolError("refused: the command contains a NUL byte")
    if len(command) > MAX_COMMAND_CHARS:
        raise ToolError(f"refused: the command is longer than {MAX_COMMAND_CHARS} characters")
    reason = denied_reason(command)
    if reason:
        raise ToolError(f"refused: {reason}")


async def run_shell(args: dict[str, Any], ctx: ToolContext) -> str:
    command = string_arg(args, "command")
    root = ctx.sandbox.require_root()
    _check_input(command)
    limit = max(1, int(ctx.shell_timeout))
    timeout = int_arg(args, "timeout_seconds", limit, low=1, high=limit)
    host = ctx.sandbox.tier is SandboxTier.HOST
    result = await run_in_sandbox(
        ctx.sandbox,
        ["/bin/sh", "-c", command],
        cwd=root,
        env=shell_env(str(root) if host else JAIL_ROOT),
        limits=Limits(wall_seconds=timeout, cpu_seconds=timeout, output_bytes=MAX_OUTPUT_BYTES),
    )
    if result.timed_out:
        status = f"timed out after {timeout}s (killed)"
    elif result.truncated:
        status = f"output passed {MAX_OUTPUT_BYTES} bytes: stopped reading and killed the command"
    else:
        status = f"exit code {result.exit_code}"
    parts = [status]
    if result.stdout:
        parts.append("stdout:\n" + _clip(result.stdout))
    if result.stderr:
        parts.append("stderr:\n" + _clip(result.stderr))
    return "\n".join(parts)


SHELL_TOOLS = [
    Tool(
        "run_shell",
        "shell",
        "Run a shell command in a jail: the sandbox root is the working directory (/workspace), there is no "
        "network, and long or very talkative commands are killed.",
        schema(
            {"command": {"type": "string"}, "timeout_seconds": {"type": "integer", "minimum": 1}}, ["command"]
        ),
        run_shell,
    )
]
