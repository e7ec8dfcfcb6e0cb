"""Service management routes: restart, profiles, logs (admin only)."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from nova_common.auth import AdminAuth
from nova_common.errors import NotConfigured
from nova_contracts.recovery import ManagedServices, ServiceAction, ServiceLogs
from recovery.config import Settings
from recovery.services.managers import DockerServices, LauncherServices, ServiceManager

router = APIRouter(prefix="/api/v1/recovery", tags=["services"])


def build_manager(settings: Settings) -> ServiceManager | None:
    """The manager for how this stack runs; None when recovery can manage nothing here."""
    choice = settings.service_manager
    if choice == "launcher" or (choice == "auto" and settings.supervisor_url):
        if not settings.supervisor_url or not settings.service_token_usable:
            return None
        return LauncherServices(settings.supervisor_url, settings.service_token.get_secret_value())
    socket = settings.docker_host.removeprefix("unix://")
    docker_reachable = not settings.docker_host.startswith("unix://") or Path(socket).exists()
    if choice == "docker" or (choice == "auto" and docker_reachable):
        return DockerServices(settings.docker_host, settings.compose_project)
    return None


async def get_manager(request: Request) -> ServiceManager:
    manager: ServiceManager | None = request.app.state.service_manager
    if manager is None:
        raise NotConfigured(
            "no service manager here: run under `make run` (the launcher's supervisor) or give recovery the "
            "Docker socket (Compose), or set NOVA_SERVICE_MANAGER"
        )
    return manager


Manager = Annotated[ServiceManager, Depends(get_manager)]


@router.get("/managed-services", response_model=ManagedServices)
async def list_managed_services(_: AdminAuth, manager: Manager) -> ManagedServices:
    """The services the process manager runs, with their state."""
    return ManagedServices(manager=manager.kind, services=await manager.list_services())


@router.post("/services/{name}/restart", response_model=ServiceAction)
async def restart_service(_: AdminAuth, manager: Manager, name: str) -> ServiceAction:
    """Restart one service."""
    return await manager.restart(name)


@router.get("/services/{name}/logs", response_model=ServiceLogs)
async def read_service_logs(
    _: AdminAuth, manager: Manager, name: str, lines: Annotated[int, Query(ge=1, le=2000)] = 200
) -> ServiceLogs:
    """The service's most recent log lines."""
    return await manager.logs(name, lines)


@router.post("/profiles/{profile}/start", response_model=ServiceAction)
async def start_profile(_: AdminAuth, manager: Manager, profile: str) -> ServiceAction:
    """Start the services of an optional profile (bridges, knowledge, voice)."""
    return await manager.start_profile(profile)


@router.post("/profiles/{profile}/stop", response_model=ServiceAction)
async def stop_profile(_: AdminAuth, manager: Manager, profile: str) -> ServiceAction:
    """Stop the services of an optional profile."""
    return await manager.stop_profile(profile)
