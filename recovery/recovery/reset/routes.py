"""Factory reset routes."""

from fastapi import APIRouter, Request

from nova_common.auth import AdminAuth
from nova_contracts.recovery import ResetCategories, ResetReport, ResetRequest
from recovery.reset.service import ResetService, describe_categories

router = APIRouter(prefix="/api/v1/recovery/reset", tags=["reset"])


@router.get("/categories", response_model=ResetCategories)
async def list_reset_categories() -> ResetCategories:
    """What each reset category removes: tables, Redis key patterns, files (public: it names no data)."""
    return describe_categories()


@router.post("", response_model=ResetReport)
async def factory_reset(_: AdminAuth, body: ResetRequest, request: Request) -> ResetReport:
    """Remove the chosen categories (confirm must be "RESET"); a backup is taken first unless declined."""
    service: ResetService = request.app.state.reset
    return await service.reset(body)
