"""MCP server registry and live reconnects (admin)."""

from uuid import UUID

from fastapi import APIRouter, Response, status

from nova_common.auth import AdminAuth
from nova_contracts.orchestrator import McpCatalogEntry, McpServerCreate, McpServerInfo, McpServerUpdate
from orchestrator.deps import McpServiceDep, Page
from orchestrator.mcp_servers.catalog import CATALOG

router = APIRouter(prefix="/api/v1/mcp-servers", tags=["mcp"])


@router.get("/catalog", response_model=list[McpCatalogEntry])
async def list_mcp_catalog(_: AdminAuth) -> list[McpCatalogEntry]:
    """Well-known servers to add with one click (fill in `required_env`)."""
    return CATALOG


@router.get("", response_model=list[McpServerInfo])
async def list_mcp_servers(_: AdminAuth, servers: McpServiceDep, page: Page) -> list[McpServerInfo]:
    """Registered servers with their connection state, error and tools."""
    return await servers.list(limit=page.limit, offset=page.offset)


@router.post("", response_model=McpServerInfo, status_code=status.HTTP_201_CREATED)
async def create_mcp_server(body: McpServerCreate, _: AdminAuth, servers: McpServiceDep) -> McpServerInfo:
    """Register a server and connect to it; a failure to connect is reported on the row, not as an error."""
    return await servers.create(body)


@router.get("/{server_id}", response_model=McpServerInfo)
async def get_mcp_server(server_id: UUID, _: AdminAuth, servers: McpServiceDep) -> McpServerInfo:
    """One server with its state and tools."""
    return await servers.get(server_id)


@router.patch("/{server_id}", response_model=McpServerInfo)
async def update_mcp_server(
    server_id: UUID, body: McpServerUpdate, _: AdminAuth, servers: McpServiceDep
) -> McpServerInfo:
    """Change a server's config; it reconnects with the new one."""
    return await servers.update(server_id, body)


@router.delete("/{server_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_mcp_server(server_id: UUID, _: AdminAuth, servers: McpServiceDep) -> Response:
    """Disconnect and remove a server."""
    await servers.delete(server_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{server_id}/reload", response_model=McpServerInfo)
async def reload_mcp_server(server_id: UUID, _: AdminAuth, servers: McpServiceDep) -> McpServerInfo:
    """Reconnect to a server (after a crash or a config change) and list its tools again."""
    return await servers.reload(server_id)
