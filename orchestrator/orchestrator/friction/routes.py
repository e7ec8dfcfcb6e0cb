"""`/api/v1/friction`: report what went wrong on a page, list reports with their status, and "fix this"."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from nova_contracts.orchestrator import FrictionCreate, FrictionInfo, FrictionStatus, FrictionUpdate
from orchestrator.deps import CallerAuth, CallerTenant, Page
from orchestrator.friction.repository import FrictionRepository
from orchestrator.friction.service import FrictionService

router = APIRouter(prefix="/api/v1/friction", tags=["friction"])


async def get_friction(request: Request) -> FrictionService:  # async: no thread hop per request
    # Built per request from the pool and the pipeline the lifespan opened (as journal/ does): no I/O.
    return FrictionService(
        FrictionRepository(request.app.state.resources.pg), request.app.state.pipeline.service
    )


Friction = Annotated[FrictionService, Depends(get_friction)]


@router.post("", response_model=FrictionInfo, status_code=status.HTTP_201_CREATED)
async def create_friction_report(
    body: FrictionCreate, tenant: CallerTenant, friction: Friction
) -> FrictionInfo:
    """Report something that went wrong: the text, the page, optionally a screenshot (a data URL)."""
    return await friction.create(body, tenant)


@router.get("", response_model=list[FrictionInfo])
async def list_friction_reports(
    tenant: CallerTenant,
    friction: Friction,
    page: Page,
    status_: Annotated[FrictionStatus | None, Query(alias="status")] = None,
) -> list[FrictionInfo]:
    """The caller's reports (the admin's: all), newest first, without screenshots."""
    return await friction.list(tenant, status=status_, limit=page.limit, offset=page.offset)


@router.get("/{report_id}", response_model=FrictionInfo)
async def get_friction_report(report_id: uuid.UUID, tenant: CallerTenant, friction: Friction) -> FrictionInfo:
    """One report with its screenshot."""
    return await friction.get(report_id, tenant)


@router.patch("/{report_id}", response_model=FrictionInfo)
async def update_friction_report(
    report_id: uuid.UUID, body: FrictionUpdate, tenant: CallerTenant, friction: Friction
) -> FrictionInfo:
    """Set a report's status (e.g. `fixed` or `dismissed`)."""
    return await friction.update(report_id, body, tenant)


@router.delete("/{report_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_friction_report(report_id: uuid.UUID, tenant: CallerTenant, friction: Friction) -> Response:
    """Delete a report."""
    await friction.delete(report_id, tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{report_id}/fix", response_model=FrictionInfo, status_code=status.HTTP_202_ACCEPTED)
async def fix_friction_report(report_id: uuid.UUID, caller: CallerAuth, friction: Friction) -> FrictionInfo:
    """Submit a pipeline task to fix what the report describes; the report becomes `fixing` with its task id."""
    return await friction.fix(report_id, caller)
