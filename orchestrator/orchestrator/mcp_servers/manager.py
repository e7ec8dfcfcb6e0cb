"""Every MCP connection of this process, by server id; a failure stays on its own server."""

import asyncio
from uuid import UUID

from nova_contracts.orchestrator import McpServerState, McpToolInfo
from orchestrator.mcp_servers.connection import McpCallResult, McpConnection, McpServerSpec

# After a connect timeout the SDK still closes the child politely (stdin, then SIGTERM, then SIGKILL, ~5 s).
SHUTDOWN_GRACE_SECONDS = 6.0


class McpManager:
    def __init__(self, *, connect_timeout: float, call_timeout: float, ping_interval: float) -> None:
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.ping_interval = ping_interval
        self._connections: dict[UUID, McpConnection] = {}
        self._names: dict[UUID, str] = {}

    def start(self, spec: McpServerSpec) -> McpConnection | None:
        self._names[spec.id] = spec.name
        if not spec.enabled:
            return None
        connection = McpConnection(
            spec,
            connect_timeout=self.connect_timeout,
            call_timeout=self.call_timeout,
            ping_interval=self.ping_interval,
        )
        self._connections[spec.id] = connection
        connection.start()
        return connection

    async def stop(self, server_id: UUID) -> None:
        connection = self._connections.pop(server_id, None)
        if connection is not None:
            await connection.stop()

    async def forget(self, server_id: UUID) -> None:
        await self.stop(server_id)
        self._names.pop(server_id, None)

    async def restart(self, spec: McpServerSpec, *, wait: bool = True) -> None:
        await self.stop(spec.id)
        connection = self.start(spec)
        if connection is not None and wait:
            await connection.wait_settled(self.connect_timeout + SHUTDOWN_GRACE_SECONDS)

    def connection(self, server_id: UUID) -> McpConnection | None:
        return self._connections.get(server_id)

    def tools(self) -> list[McpToolInfo]:
        """Tools of the servers that are connected right now."""
        return [
            tool
            for connection in self._connections.values()
            if connection.state is McpServerState.CONNECTED
            for tool in connection.tools.values()
        ]

    def tools_by_server(self) -> dict[str, list[McpToolInfo]]:
        return {
            c.spec.name: list(c.tools.values())
            for c in self._connections.values()
            if c.state is McpServerState.CONNECTED
        }

    async def call(self, qualified_name: str, arguments: dict[str, object]) -> McpCallResult:
        for connection in self._connections.values():
            tool = connection.tools.get(qualified_name)
            if tool is not None:
                return await connection.call(tool.tool, dict(arguments))
        return McpCallResult(f"no connected MCP server offers {qualified_name}", True)

    def health_details(self) -> dict[str, dict[str, object]]:
        return {
            c.spec.name: {"state": c.state.value, "error": c.error, "tools": len(c.tools)}
            for c in self._connections.values()
        }

    async def close(self) -> None:
        await asyncio.gather(*(c.stop() for c in self._connections.values()), return_exceptions=True)
        self._connections.clear()
