"""API keys: admin CRUD, and validation for other services (chat-api checks WebSocket clients here)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response, status

from nova_common.auth import AdminAuth, ServiceAuth
from nova_contracts.orchestrator import ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, ApiKeyValidation
from orchestrator.deps import ApiKeyServiceDep, Page

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyCreate, _: AdminAuth, keys: ApiKeyServiceDep) -> ApiKeyCreated:
    """Issue a key; the raw `sk-nova-…` value is in this response only."""
    return await keys.create(body)


@router.get("", response_model=list[ApiKeyInfo])
async def list_api_keys(_: AdminAuth, keys: ApiKeyServiceDep, page: Page) -> list[ApiKeyInfo]:
    """Every key with its prefix and metadata, newest first (never the secret)."""
    return await keys.list(limit=page.limit, offset=page.offset)


@router.get("/validate", response_model=ApiKeyValidation)
async def validate_api_key(
    _: ServiceAuth,
    keys: ApiKeyServiceDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", max_length=512)] = None,
    key_hash: Annotated[
        str | None, Query(pattern=r"^[0-9a-f]{64}$", description="SHA-256 hex of the key, instead of the key")
    ] = None,
) -> ApiKeyValidation:
    """For Nova services: is the key in `X-API-Key` (or with SHA-256 `key_hash`) valid? Always 200;
    `valid=false` says why in `reason`."""
    return await keys.validate(x_api_key, key_hash)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: UUID, _: AdminAuth, keys: ApiKeyServiceDep) -> Response:
    """Revoke a key; requests with it are refused from now on (the row is kept for usage history)."""
    await keys.revoke(key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
