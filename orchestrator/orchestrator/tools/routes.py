"""Tool catalog and group permissions (admin)."""

from fastapi import APIRouter

from nova_common.auth import AdminAuth
from nova_contracts.orchestrator import ToolGroupInfo, ToolPermissions, ToolPermissionsUpdate
from orchestrator.deps import ToolServiceDep

router = APIRouter(prefix="/api/v1", tags=["tools"])


@router.get("/tools", response_model=list[ToolGroupInfo])
async def list_tools(_: AdminAuth, tools: ToolServiceDep) -> list[ToolGroupInfo]:
    """Built-in tools by group, then the tools of each connected MCP server."""
    return await tools.catalog()


@router.get("/tool-permissions", response_model=ToolPermissions)
async def get_tool_permissions(_: AdminAuth, tools: ToolServiceDep) -> ToolPermissions:
    """Which built-in tool groups are switched on."""
    return await tools.permissions()


@router.patch("/tool-permissions", response_model=ToolPermissions)
async def update_tool_permissions(
    body: ToolPermissionsUpdate, _: AdminAuth, tools: ToolServiceDep
) -> ToolPermissions:
    """Switch tool groups on or off; the change applies to the next tool call."""
    return await tools.set_permissions(body)
