"""Identity (public), platform settings and the admin secret (admin)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from nova_common.auth import AdminAuth, admin_secrets
from nova_common.resources import Resources
from nova_contracts.orchestrator import (
    AdminSecretChange,
    AdminSecretRotated,
    ConfigEntry,
    ConfigUpdate,
    Identity,
)
from orchestrator.deps import PlatformConfigDep
from orchestrator.platform_config.model_catalog import GatewayModelCatalog, ModelCatalog

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
    """One platform setting (`auth.*` is reserved: 403)."""
    return await config.entry(key)


async def get_model_catalog(request: Request) -> ModelCatalog | None:
    resources: Resources = request.app.state.resources
    gateway = resources.peers.get("llm-gateway")
    return GatewayModelCatalog(gateway) if gateway is not None else None


ModelCatalogDep = Annotated[ModelCatalog | None, Depends(get_model_catalog)]


@router.patch("/config/{key}", response_model=ConfigEntry)
async def update_config(
    key: ConfigKey, body: ConfigUpdate, _: AdminAuth, config: PlatformConfigDep, models: ModelCatalogDep
) -> ConfigEntry:
    """Set a platform setting (each key has a schema: 422 names the rule a value breaks); `null` removes one.

    Keys outside the known list are refused unless under `ext.`; `auth.*` is reserved (403). Secret settings
    (`llm.api_key.<provider>`, bot tokens) are answered masked. Values reach Redis DB 1 for other services.
    """
    return await config.update(key, body, models=models)


@router.put("/admin/secret", response_model=AdminSecretRotated)
async def rotate_admin_secret(body: AdminSecretChange, _: AdminAuth, request: Request) -> AdminSecretRotated:
    """Replace the admin secret for every Nova service; the one sent with this request stops working."""
    return AdminSecretRotated(rotated_at=await admin_secrets(request).rotate(body.new_secret))
