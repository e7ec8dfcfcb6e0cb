"""A small MCP tool server for the tests, built with the official SDK (`MCPServer`, FastMCP in SDK 1.x).

Usage: `python tool_server.py NAME` (stdio) or `python tool_server.py NAME --http PORT` (streamable HTTP).
"""

import os
import sys
import time

from mcp.server.mcpserver import MCPServer

name = sys.argv[1] if len(sys.argv) > 1 else "echo"
server = MCPServer(name)
notes: list[str] = []


@server.tool()
def echo(text: str) -> str:
    """Return the text, prefixed with the server's name."""
    return f"{name}:{text}"


@server.tool()
def add_note(text: str) -> str:
    """Keep a note in this server's memory."""
    notes.append(text)
    return f"{len(notes)} notes"


@server.tool()
def crash() -> str:
    """Exit the server process at once (simulates a crash)."""
    print("about to crash on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "done"


if __name__ == "__main__":
    if "--http" in sys.argv:
        port = int(sys.argv[sys.argv.index("--http") + 1])
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run()
