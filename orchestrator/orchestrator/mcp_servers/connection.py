"""One live connection to one MCP server, owned by its own task.

The task enters the SDK client's context and stays inside it until stopped, so the SDK's task groups and
cancel scopes stay properly nested; a connect that does not finish in time, a failed ping or a closed
pipe ends only this task, and its error is kept for the server's row and `/health/ready`. Tool calls come
from request tasks and are bounded by their own timeout, so a hung server stalls no one else.
"""

import asyncio
import contextlib
import hashlib
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, TextIO, cast
from uuid import UUID

import anyio
import mcp_types
import structlog
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from nova_contracts.orchestrator import McpServerState, McpToolInfo, McpTransport

log = structlog.get_logger("orchestrator.mcp")

TOOL_NAME_LIMIT = 64
PING_TIMEOUT_SECONDS = 10.0  # a liveness probe (tools/list) must answer within this
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def qualified_tool_name(server: str, tool: str) -> str:
    """`mcp__<server>__<tool>`, kept within the 64 characters providers accept."""
    name = f"mcp__{server}__{_UNSAFE.sub('_', tool)}"
    if len(name) > TOOL_NAME_LIMIT:
        digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
        name = f"{name[: TOOL_NAME_LIMIT - 9]}_{digest}"
    return name


@dataclass(frozen=True)
class McpServerSpec:
    id: UUID
    name: str
    transport: McpTransport
    command: str | None
    args: list[str]
    env: dict[str, str]
    url: str | None
    enabled: bool


@dataclass(frozen=True)
class McpCallResult:
    text: str
    is_error: bool


def _render(result: mcp_types.CallToolResult) -> str:
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        elif isinstance(block, mcp_types.EmbeddedResource):
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        else:
            parts.append(f"[{block.type} content]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, default=str))
    return "\n".join(parts)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass
class McpConnection:
    spec: McpServerSpec
    connect_timeout: float
    call_timeout: float
    ping_interval: float
    state: McpServerState = McpServerState.CONNECTING
    error: str | None = None
    connected_at: datetime | None = None
    tools: dict[str, McpToolInfo] = field(default_factory=dict)
    _client: Client | None = None
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _settled: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _broken: str | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mcp:{self.spec.name}")

    async def wait_settled(self, within: float) -> None:
        """Until the connection is up or has failed (or `within` seconds pass)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), within)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.connect_timeout + 10)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    def _transport(self, errlog: IO[str]) -> Any:
        if self.spec.transport is McpTransport.HTTP:
            assert self.spec.url is not None
            return self.spec.url
        assert self.spec.command is not None
        params = StdioServerParameters(
            command=self.spec.command, args=self.spec.args, env=self.spec.env or None
        )
        return stdio_client(params, errlog=cast(TextIO, errlog))

    async def _run(self) -> None:
        # The child's stderr goes to a temp file so a crash can be reported with its last words.
        errlog = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        try:
            with anyio.fail_after(self.connect_timeout) as deadline:
                async with Client(self._transport(errlog), read_timeout_seconds=self.call_timeout) as client:
                    self.tools = await self._list_tools(client)
                    deadline.deadline = math.inf
                    self._client = client
                    self.state, self.error = McpServerState.CONNECTED, None
                    self.connected_at = datetime.now(UTC)
                    self._settled.set()
                    log.info("mcp_server_connected", server=self.spec.name, tools=len(self.tools))
                    await self._watch(client)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) and not self._stopping:
                self._fail("cancelled")
                raise
            if not self._stopping:
                reason = self._broken or (
                    f"no answer within {self.connect_timeout:.0f}s"
                    if isinstance(exc, TimeoutError) and self.state is McpServerState.CONNECTING
                    else _describe(exc)
                )
                stderr = await asyncio.to_thread(_tail, errlog)
                self._fail(reason + (f" (stderr: {stderr})" if stderr else ""))
        else:
            if not self._stopping:
                stderr = await asyncio.to_thread(_tail, errlog)
                self._fail((self._broken or "connection closed") + (f" (stderr: {stderr})" if stderr else ""))
        finally:
            self._client = None
            self.tools = {}
            self._settled.set()
            errlog.close()
            if self._stopping:
                self.state, self.error = McpServerState.DISABLED, None

    def _fail(self, reason: str) -> None:
        self.state, self.error = McpServerState.ERROR, reason
        log.warning("mcp_server_failed", server=self.spec.name, error=reason)

    async def _list_tools(self, client: Client, *, refresh: bool = False) -> dict[str, McpToolInfo]:
        tools: dict[str, McpToolInfo] = {}
        cursor: str | None = None
        for _ in range(100):
            page = await client.list_tools(cursor=cursor, cache_mode="refresh" if refresh else "use")
            for tool in page.tools:
                name = qualified_tool_name(self.spec.name, tool.name)
                tools[name] = McpToolInfo(
                    name=name,
                    tool=tool.name,
                    description=tool.description or "",
                    parameters=tool.input_schema,
                )
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def _watch(self, client: Client) -> None:
        """Probe every `ping_interval` until stopped; a failed probe or a broken call ends the connection.

        The probe re-lists the tools (ping is gone from the 2026 protocol; listing works on every version),
        which also picks up tools a server added or removed.
        """
        while True:
            with anyio.move_on_after(self.ping_interval):
                await self._wake.wait()
            self._wake.clear()
            if self._stopping or self._broken:
                return
            try:
                with anyio.fail_after(PING_TIMEOUT_SECONDS):
                    self.tools = await self._list_tools(client, refresh=True)
            except TimeoutError:
                self._broken = f"stopped answering (no reply within {PING_TIMEOUT_SECONDS:.0f}s)"
                raise
            except MCPError as exc:
                self._broken = (
                    "the server closed the connection (crashed or exited)"
                    if exc.code == mcp_types.CONNECTION_CLOSED
                    else f"liveness check failed: {exc}"
                )
                raise

    async def call(self, tool: str, arguments: dict[str, Any]) -> McpCallResult:
        client = self._client
        if client is None or self.state is not McpServerState.CONNECTED:
            return McpCallResult(
                f"MCP server {self.spec.name} is not connected ({self.error or self.state})", True
            )
        try:
            with anyio.fail_after(self.call_timeout):
                result = await client.call_tool(tool, arguments, read_timeout_seconds=self.call_timeout)
        except TimeoutError:
            return McpCallResult(f"MCP tool {tool} gave no answer within {self.call_timeout:.0f}s", True)
        except MCPError as exc:
            if exc.code == mcp_types.CONNECTION_CLOSED:
                self._broken = "the server closed the connection (crashed or exited)"
                self._wake.set()
            return McpCallResult(f"MCP tool {tool} failed: {exc}", True)
        return McpCallResult(_render(result), result.is_error)


def _tail(errlog: IO[str], limit: int = 400) -> str:
    try:
        errlog.seek(0)
        text = errlog.read()
    except (OSError, ValueError):
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-limit:]
