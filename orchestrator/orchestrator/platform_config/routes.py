"""Identity (public), platform settings and the admin secret (admin)."""

from typing import Annotated

from fastapi import APIRouter, Path, Request

from nova_common.auth import AdminAuth, admin_secrets
from nova_contracts.orchestrator import (
    AdminSecretChange,
    AdminSecretRotated,
    ConfigEntry,
    ConfigUpdate,
    Identity,
)
from orchestrator.deps import PlatformConfigDep

router = APIRouter(prefix="/api/v1", tags=["config"])

ConfigKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[a-z][a-z0-9_.-]{0,127}$",
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
    """Set a platform setting; well-known keys are validated and mirrored to Redis for other services.

    Secret settings (`llm.api_key.<provider>`, bot tokens) are answered masked; `null` removes a value.
    """
    return await config.update(key, body)


@router.put("/admin/secret", response_model=AdminSecretRotated)
async def rotate_admin_secret(body: AdminSecretChange, _: AdminAuth, request: Request) -> AdminSecretRotated:
    """Replace the admin secret for every Nova service; the one sent with this request stops working."""
    return AdminSecretRotated(rotated_at=await admin_secrets(request).rotate(body.new_secret))
