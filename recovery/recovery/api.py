"""Recovery's HTTP routes."""

from fastapi import APIRouter, Request

from nova_contracts.health import ServicesOverview
from recovery.stack_status import stack_overview

router = APIRouter(prefix="/api/v1/recovery", tags=["recovery"])


@router.get("/services", response_model=ServicesOverview)
async def list_services(request: Request) -> ServicesOverview:
    """Every service of the stack with its readiness (public: the dashboard's startup screen reads it)."""
    return await stack_overview(request.app.state.settings, request.app.state.probe_client)
