"""Git tools: `git -C <sandboxed path>` with an argument list (no shell), hooks and fsmonitor switched off.

Hooks are off because a repository's `.git/hooks` is code the agent could have written: with the shell
group disabled, `git commit` must not become a way to run it.
"""

from typing import Any

from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg
from orchestrator.tools.shell import MAX_STREAM_CHARS, run_command, shell_env

GIT_TIMEOUT_SECONDS = 30
SAFE_CONFIG = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.pager=cat"]


async def _git(ctx: ToolContext, path: str, *args: str) -> str:
    repo = ctx.sandbox.resolve(path)
    env = {
        **shell_env(str(ctx.sandbox.require_root())),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    code, stdout, stderr = await run_command(
        ["git", *SAFE_CONFIG, "-C", str(repo), *args],
        cwd=str(ctx.sandbox.require_root()),
        time_limit=GIT_TIMEOUT_SECONDS,
        env=env,
    )
    what = next((a for a in args if not a.startswith("-") and "=" not in a), "command")
    if code is None:
        raise ToolError(f"git {what} timed out after {GIT_TIMEOUT_SECONDS}s")
    output = (stdout + stderr).decode("utf-8", errors="replace")
    if code != 0:
        raise ToolError(f"git {what} failed (exit {code}): {output.strip()[:2000]}")
    if len(output) > MAX_STREAM_CHARS * 4:
        output = output[: MAX_STREAM_CHARS * 4] + "\n… (truncated)"
    return output.strip() or "(no output)"


async def git_status(args: dict[str, Any], ctx: ToolContext) -> str:
    return await _git(ctx, string_arg(args, "path", "."), "status", "--short", "--branch")


async def git_diff(args: dict[str, Any], ctx: ToolContext) -> str:
    extra = ["--cached"] if args.get("staged") else []
    return await _git(ctx, string_arg(args, "path", "."), "diff", *extra)


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
