"""File tools: every path goes through `Sandbox.resolve` first, and all I/O runs in a worker thread.

Writes never land inside a `.git` folder: the agent edits work trees, and a repository's config, hooks and
attributes are what would make the git tools run its code.
"""

import asyncio
import fnmatch
import os
from pathlib import Path
from typing import Any

from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg
from orchestrator.tools.sandbox import Sandbox

MAX_READ_BYTES = 512_000
MAX_LIST_ENTRIES = 500
MAX_SEARCH_FILE_BYTES = 2_000_000
SKIPPED_DIRS = frozenset({".git", "node_modules", "__pycache__", ".venv"})


def _list_dir(sandbox: Sandbox, path: Path) -> str:
    if not path.is_dir():
        raise ToolError(f"{sandbox.display(path)} is not a directory")
    lines = []
    entries = [e for e in os.scandir(path) if not sandbox.is_hidden(Path(e.path))]
    for entry in sorted(entries, key=lambda e: e.name)[:MAX_LIST_ENTRIES]:
        if entry.is_dir(follow_symlinks=False):
            lines.append(f"{entry.name}/")
        elif entry.is_symlink():
            lines.append(f"{entry.name} -> (symlink)")
        else:
            lines.append(f"{entry.name}  {entry.stat(follow_symlinks=False).st_size} bytes")
    return "\n".join(lines) or "(empty directory)"


def _read_file(sandbox: Sandbox, path: Path, max_bytes: int) -> str:
    if not path.is_file():
        raise ToolError(f"{sandbox.display(path)} is not a file")
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if b"\x00" in data[:8192]:
        raise ToolError(f"{sandbox.display(path)} looks binary; not shown")
    text = data[:max_bytes].decode("utf-8", errors="replace")
    if len(data) > max_bytes:
        text += f"\n… (truncated at {max_bytes} bytes)"
    return text


def _write_file(sandbox: Sandbox, path: Path, content: str, append: bool) -> str:
    if path.is_dir():
        raise ToolError(f"{sandbox.display(path)} is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        handle.write(content)
    return f"{'appended' if append else 'wrote'} {len(content.encode())} bytes to {sandbox.display(path)}"


def _search(sandbox: Sandbox, base: Path, query: str, pattern: str, limit: int) -> str:
    root = sandbox.require_root()
    hits: list[str] = []
    needle = query.lower()
    for directory, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = [
            d for d in dirnames if d not in SKIPPED_DIRS and not sandbox.is_hidden(Path(directory) / d)
        ]
        for name in filenames:
            if not fnmatch.fnmatch(name, pattern):
                continue
            file = Path(directory) / name
            # A symlink inside the sandbox may point outside it; search only what really lives inside.
            real = Path(os.path.realpath(file))
            if not real.is_relative_to(root) or not real.is_file() or sandbox.is_hidden(real):
                continue
            if real.stat().st_size > MAX_SEARCH_FILE_BYTES:
                continue
            try:
                text = real.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(text.splitlines(), start=1):
                if needle in line.lower():
                    hits.append(f"{sandbox.display(file)}:{number}: {line.strip()[:200]}")
                    if len(hits) >= limit:
                        return "\n".join(hits) + f"\n… (stopped at {limit} matches)"
    return "\n".join(hits) or f"no matches for {query!r}"


async def list_dir(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.sandbox.resolve(string_arg(args, "path", "."))
    return await asyncio.to_thread(_list_dir, ctx.sandbox, path)


async def read_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.sandbox.resolve(string_arg(args, "path"))
    max_bytes = int_arg(args, "max_bytes", 100_000, low=1, high=MAX_READ_BYTES)
    return await asyncio.to_thread(_read_file, ctx.sandbox, path, max_bytes)


def _refuse_repository_internals(sandbox: Sandbox, path: Path) -> None:
    if ".git" in (part.lower() for part in path.relative_to(sandbox.require_root()).parts):
        raise ToolError(
            f"refused: {sandbox.display(path)} is inside a .git folder; edit the work tree and use the git tools"
        )


async def write_file(args: dict[str, Any], ctx: ToolContext) -> str:
    path = ctx.sandbox.resolve(string_arg(args, "path"))
    _refuse_repository_internals(ctx.sandbox, path)
    content = args.get("content", "")
    if not isinstance(content, str):
        raise ToolError("argument 'content' must be a string")
    return await asyncio.to_thread(_write_file, ctx.sandbox, path, content, bool(args.get("append", False)))


async def search_files(args: dict[str, Any], ctx: ToolContext) -> str:
    query = string_arg(args, "query")
    base = ctx.sandbox.resolve(string_arg(args, "path", "."))
    pattern = string_arg(args, "glob", "*")
    limit = int_arg(args, "max_results", 50, low=1, high=500)
    return await asyncio.to_thread(_search, ctx.sandbox, base, query, pattern, limit)


PATH = {"type": "string", "description": "path relative to the sandbox root"}
FILE_TOOLS = [
    Tool("list_dir", "files", "List a directory of the sandbox.", schema({"path": PATH}), list_dir),
    Tool(
        "read_file",
        "files",
        "Read a text file of the sandbox.",
        schema({"path": PATH, "max_bytes": {"type": "integer", "minimum": 1}}, ["path"]),
        read_file,
    ),
    Tool(
        "write_file",
        "files",
        "Create or overwrite (or append to) a text file in the sandbox; parent folders are created.",
        schema(
            {"path": PATH, "content": {"type": "string"}, "append": {"type": "boolean"}}, ["path", "content"]
        ),
        write_file,
    ),
    Tool(
        "search_files",
        "files",
        "Search text files of the sandbox for a case-insensitive string; answers path:line: text.",
        schema(
            {
                "query": {"type": "string"},
                "path": PATH,
                "glob": {"type": "string", "description": "file name pattern such as *.py"},
                "max_results": {"type": "integer", "minimum": 1},
            },
            ["query"],
        ),
        search_files,
    ),
]
