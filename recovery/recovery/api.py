"""Recovery's HTTP routes: the stack overview, status, diagnostics and the `.env` editor."""

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from nova_common.auth import AdminAuth
from nova_contracts.health import ServicesOverview
from nova_contracts.recovery import EnvUpdate, EnvUpdateResult, EnvView, RecoveryStatus
from recovery import diagnostics, envfile_editor
from recovery.config import Settings
from recovery.stack_status import stack_overview

router = APIRouter(prefix="/api/v1/recovery", tags=["recovery"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/services", response_model=ServicesOverview)
async def list_services(request: Request) -> ServicesOverview:
    """Every service of the stack with its readiness (public: the dashboard's startup screen reads it)."""
    return await stack_overview(request.app.state.settings, request.app.state.probe_client)


@router.get("/status", response_model=RecoveryStatus)
async def get_status(request: Request) -> RecoveryStatus:
    """Services ready, database size and table count, backups (public: counts and sizes only)."""
    return await diagnostics.status(
        _settings(request), request.app.state.probe_client, request.app.state.backups
    )


@router.get("/diagnostics", responses={200: {"content": {"application/json": {}}}})
async def download_diagnostics(_: AdminAuth, request: Request) -> Response:
    """A diagnostics bundle to attach when asking for help: health, versions, recent logs, redacted config."""
    body = await diagnostics.bundle(
        _settings(request),
        request.app.state.probe_client,
        request.app.state.backups,
        request.app.state.service_manager,
    )
    name = f"nova-diagnostics-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    return Response(
        json.dumps(body, indent=1, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/env", response_model=EnvView)
async def read_env_settings(_: AdminAuth, request: Request) -> EnvView:
    """The whitelisted `.env` keys, secrets masked, with the services each needs restarted."""
    return envfile_editor.view(_settings(request).env_file)


@router.patch("/env", response_model=EnvUpdateResult)
async def update_env_settings(_: AdminAuth, body: EnvUpdate, request: Request) -> EnvUpdateResult:
    """Set or remove whitelisted `.env` keys (atomic, comments and order kept); says what to restart."""
    return await envfile_editor.update(_settings(request).env_file, body)
