"""Identity (public) and platform settings (admin)."""

from typing import Annotated

from fastapi import APIRouter, Path

from nova_common.auth import AdminAuth
from nova_contracts.orchestrator import ConfigEntry, ConfigUpdate, Identity
from orchestrator.deps import PlatformConfigDep

router = APIRouter(prefix="/api/v1", tags=["config"])

ConfigKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[a-z][a-z0-9_.]{0,127}$",
        description="a config key such as `nova.name` or `context.memory_pct`",
    ),
]


@router.get("/identity", response_model=Identity)
async def get_identity(config: PlatformConfigDep) -> Identity:
    """The AI's display name and greeting; public, the dashboard shows it before login."""
    return await config.identity()


@router.get("/config", response_model=list[ConfigEntry])
async def list_config(_: AdminAuth, config: PlatformConfigDep) -> list[ConfigEntry]:
    """Every platform setting, built-in defaults included."""
    return await config.entries()


@router.get("/config/{key}", response_model=ConfigEntry)
async def get_config(key: ConfigKey, _: AdminAuth, config: PlatformConfigDep) -> ConfigEntry:
    """One platform setting."""
    return await config.entry(key)


@router.patch("/config/{key}", response_model=ConfigEntry)
async def update_config(
    key: ConfigKey, body: ConfigUpdate, _: AdminAuth, config: PlatformConfigDep
) -> ConfigEntry:
    """Set a platform setting; well-known keys are validated and mirrored to Redis for other services."""
    return await config.update(key, body)
