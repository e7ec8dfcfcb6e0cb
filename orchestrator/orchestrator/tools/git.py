"""Git tools: git run in the jail with an argument list (no shell), and nothing of the repository executed.

A repository's `.git` is files the agent could have written (the shell tools, a cloned project), and git runs
programs its config names: filters on add/checkout, diff drivers and text converters, merge drivers, the
pager, the editor, hooks, fsmonitor, a signing program. So git runs jailed, without system or global config,
with those switched off on the command line, and refuses a repository whose own config names any program or
includes another file. `GIT_CEILING_DIRECTORIES` keeps discovery from climbing out of the sandbox root.
"""

import re
from pathlib import Path
from typing import Any

from nova_contracts.orchestrator import SandboxTier
from orchestrator.tools.jail import JAIL_TMP, Limits, RunResult, jail_path, run_in_sandbox
from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg
from orchestrator.tools.shell import MAX_STREAM_CHARS

GIT_TIMEOUT_SECONDS = 30
GIT_OUTPUT_BYTES = 512_000
# Command-line config outranks every file: these hold even in a repository that sets them.
SAFE_CONFIG = [
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.pager=cat",
    "-c", "core.editor=true",
    "-c", "core.sshCommand=false",
    "-c", "commit.gpgSign=false",
    "-c", "tag.gpgSign=false",
    "-c", "protocol.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "safe.directory=*",
]  # fmt: skip
# Repository config keys (lowercased) that make git run a program or read another file.
_PROGRAM_KEY = re.compile(
    r"^(filter\..*"
    r"|diff\.external|diff\..*\.(command|textconv)"
    r"|merge\..*\.driver"
    r"|core\.(pager|sshcommand|editor|hookspath|fsmonitor|askpass|gitproxy|alternaterefscommand)"
    r"|sequence\.editor|gpg\.(.*\.)?program|credential\..*|uploadpack\..*|receive\.procreceiverefs"
    r"|include\..*|includeif\..*"
    r"|.*\.(command|cmd|program|driver|helper))$"
)


def git_env(home: str, ceiling: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": ceiling,
        "GIT_ALLOW_PROTOCOL": "file",
        "GIT_PAGER": "cat",
        "GIT_EDITOR": "true",
    }


async def _run_git(ctx: ToolContext, repo: Path, args: list[str]) -> RunResult:
    sandbox = ctx.sandbox
    root = sandbox.require_root()
    if sandbox.tier is SandboxTier.HOST:
        where, env = str(repo), git_env(str(root), str(root.parent))
    else:
        # Inside the jail the root is /workspace; its parent is the jail's own "/".
        where, env = jail_path(sandbox, repo), git_env(JAIL_TMP, "/")
    return await run_in_sandbox(
        sandbox,
        ["git", "-C", where, *args],
        cwd=root,
        env=env,
        limits=Limits(
            wall_seconds=GIT_TIMEOUT_SECONDS, cpu_seconds=GIT_TIMEOUT_SECONDS, output_bytes=GIT_OUTPUT_BYTES
        ),
    )


def _what(args: tuple[str, ...]) -> str:
    return next((a for a in args if not a.startswith("-") and "=" not in a), "command")


async def _refuse_program_config(ctx: ToolContext, repo: Path) -> None:
    """Refuse a repository whose own config would make git run a program (or pull in another file)."""
    # Only the repository's files: no -c of ours, includes listed rather than followed.
    result = await _run_git(ctx, repo, ["config", "--list", "--null", "--show-scope", "--no-includes"])
    if result.exit_code is None:
        raise ToolError("git config could not be read in time")
    # With --null --show-scope each setting is two NUL-terminated fields: its scope, then "key\nvalue".
    fields = result.stdout.decode("utf-8", "replace").split("\0")
    dangerous = [
        key
        for scope, entry in zip(fields[0::2], fields[1::2], strict=False)
        if scope in {"local", "worktree"} and _PROGRAM_KEY.match(key := entry.split("\n", 1)[0].lower())
    ]
    if dangerous:
        raise ToolError(
            "refused: this repository's .git/config makes git run programs or include other files "
            f"({', '.join(sorted(set(dangerous)))}); the git tools do not run repository-controlled "
            "commands. Remove those settings from .git/config (a person, outside Nova) to use the git tools."
        )


async def _git(ctx: ToolContext, path: str, *args: str) -> str:
    repo = ctx.sandbox.resolve(path)
    await _refuse_program_config(ctx, repo)
    result = await _run_git(ctx, repo, [*SAFE_CONFIG, *args])
    what = _what(args)
    if result.timed_out:
        raise ToolError(f"git {what} timed out after {GIT_TIMEOUT_SECONDS}s")
    output = result.output.decode("utf-8", errors="replace")
    if result.truncated:
        raise ToolError(f"git {what} printed more than {GIT_OUTPUT_BYTES} bytes and was stopped")
    if result.exit_code != 0:
        raise ToolError(f"git {what} failed (exit {result.exit_code}): {output.strip()[:2000]}")
    if len(output) > MAX_STREAM_CHARS * 4:
        output = output[: MAX_STREAM_CHARS * 4] + "\n… (truncated)"
    return output.strip() or "(no output)"


async def git_status(args: dict[str, Any], ctx: ToolContext) -> str:
    return await _git(ctx, string_arg(args, "path", "."), "status", "--short", "--branch")


async def git_diff(args: dict[str, Any], ctx: ToolContext) -> str:
    extra = ["--cached"] if args.get("staged") else []
    return await _git(ctx, string_arg(args, "path", "."), "diff", "--no-ext-diff", "--no-textconv", *extra)


async def git_log(args: dict[str, Any], ctx: ToolContext) -> str:
    limit = int_arg(args, "limit", 10, low=1, high=200)
    return await _git(
        ctx, string_arg(args, "path", "."), "log", f"-{limit}", "--format=%h %ad %an: %s", "--date=short"
    )


async def git_commit(args: dict[str, Any], ctx: ToolContext) -> str:
    path = string_arg(args, "path", ".")
    message = string_arg(args, "message")
    if args.get("add_all", True):
        await _git(ctx, path, "add", "--all")
    # The repository's own identity wins; a fresh one commits as Nova rather than failing.
    identity = (
        [] if await _has_identity(ctx, path) else ["-c", "user.name=Nova", "-c", "user.email=nova@localhost"]
    )
    return await _git(ctx, path, *identity, "commit", "-m", message)


async def _has_identity(ctx: ToolContext, path: str) -> bool:
    try:
        await _git(ctx, path, "config", "--get", "user.email")
    except ToolError:
        return False
    return True


REPO = {"type": "string", "description": "repository folder relative to the sandbox root (default .)"}
GIT_TOOLS = [
    Tool(
        "git_status",
        "git",
        "Show the working tree status of a repository.",
        schema({"path": REPO}),
        git_status,
    ),
    Tool(
        "git_diff",
        "git",
        "Show unstaged (or, with staged=true, staged) changes.",
        schema({"path": REPO, "staged": {"type": "boolean"}}),
        git_diff,
    ),
    Tool(
        "git_log",
        "git",
        "Show recent commits, newest first.",
        schema({"path": REPO, "limit": {"type": "integer", "minimum": 1}}),
        git_log,
    ),
    Tool(
        "git_commit",
        "git",
        "Commit changes (all of them unless add_all=false) with a message.",
        schema({"path": REPO, "message": {"type": "string"}, "add_all": {"type": "boolean"}}, ["message"]),
        git_commit,
    ),
]
