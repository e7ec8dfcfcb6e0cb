"""MCP server registry (Postgres) joined with this process's live connections."""

from typing import Any
from uuid import UUID

import asyncpg
import structlog

from nova_common.errors import BadRequest, Conflict, NotFound
from nova_contracts.orchestrator import (
    McpServerCreate,
    McpServerInfo,
    McpServerState,
    McpServerUpdate,
    McpToolInfo,
    McpTransport,
)
from orchestrator.mcp_servers.connection import McpServerSpec
from orchestrator.mcp_servers.manager import McpManager
from orchestrator.mcp_servers.repository import McpServerRepository

log = structlog.get_logger("orchestrator.mcp")


def _spec(row: dict[str, Any]) -> McpServerSpec:
    return McpServerSpec(
        id=row["id"],
        name=row["name"],
        transport=McpTransport(row["transport"]),
        command=row["command"],
        args=list(row["args"]),
        env=dict(row["env"]),
        url=row["url"],
        enabled=row["enabled"],
    )


class McpServerService:
    def __init__(self, repository: McpServerRepository, manager: McpManager) -> None:
        self.repository = repository
        self.manager = manager

    def _info(self, row: dict[str, Any]) -> McpServerInfo:
        connection = self.manager.connection(row["id"])
        tools: list[McpToolInfo]
        if not row["enabled"]:
            state, error, connected_at, tools = McpServerState.DISABLED, None, None, []
        elif connection is None:
            state, error, connected_at, tools = McpServerState.ERROR, "not started in this process", None, []
        else:
            state, error = connection.state, connection.error
            connected_at, tools = connection.connected_at, list(connection.tools.values())
        return McpServerInfo(
            **{k: v for k, v in row.items() if k != "env"},
            env_keys=sorted(row["env"]),
            state=state,
            error=error,
            connected_at=connected_at,
            tools=tools,
        )

    async def connect_all(self) -> int:
        """Start a connection for every enabled server; each connects (or fails) on its own."""
        rows = await self.repository.list()
        for row in rows:
            self.manager.start(_spec(row))
        return len(rows)

    async def list(self, *, limit: int, offset: int) -> list[McpServerInfo]:
        return [self._info(row) for row in await self.repository.list(limit=limit, offset=offset)]

    async def _row(self, server_id: UUID) -> dict[str, Any]:
        row = await self.repository.get(server_id)
        if row is None:
            raise NotFound(f"MCP server {server_id} not found")
        return row

    async def get(self, server_id: UUID) -> McpServerInfo:
        return self._info(await self._row(server_id))

    async def create(self, request: McpServerCreate) -> McpServerInfo:
        try:
            row = await self.repository.insert(request.model_dump(mode="json"))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"an MCP server named {request.name!r} already exists") from exc
        await self.manager.restart(_spec(row))
        log.info("mcp_server_registered", server=row["name"])
        return self._info(row)

    async def update(self, server_id: UUID, patch: McpServerUpdate) -> McpServerInfo:
        current = await self._row(server_id)
        merged = {**current, **patch.model_dump(mode="json")}
        try:
            McpServerCreate.model_validate(
                {k: merged[k] for k in McpServerCreate.model_fields if k in merged}
            )
        except ValueError as exc:
            raise BadRequest(f"the update leaves the server unusable: {exc}") from exc
        row = await self.repository.update(server_id, merged)
        if row is None:
            raise NotFound(f"MCP server {server_id} not found")
        await self.manager.restart(_spec(row))
        return self._info(row)

    async def delete(self, server_id: UUID) -> None:
        if not await self.repository.delete(server_id):
            raise NotFound(f"MCP server {server_id} not found")
        await self.manager.forget(server_id)

    async def reload(self, server_id: UUID) -> McpServerInfo:
        """Reconnect (re-read the config, restart the process, list tools again) and report the outcome."""
        row = await self._row(server_id)
        await self.manager.restart(_spec(row))
        return self._info(row)
