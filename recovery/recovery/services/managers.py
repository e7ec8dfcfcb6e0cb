"""The two ways Nova runs, behind one interface: Docker Compose (the Engine API over the socket) and
`make run` (the launcher's supervisor on loopback).

Compose does not label a container with its profile, so profiles come from the stack table
(`nova_common.stack`): a profile's services are the containers Compose made for them. Starting a profile
whose containers were never created needs `docker compose --profile <name> up -d` once; recovery says so
rather than re-implementing Compose.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

import docker
import httpx
from docker.errors import DockerException, ImageNotFound
from docker.types import DeviceRequest

from nova_common.auth import SERVICE_HEADER
from nova_common.errors import BadRequest, Conflict, NotFound, UpstreamUnavailable
from nova_common.stack import PROFILES, SERVICES
from nova_contracts.recovery import ManagedService, ServiceAction, ServiceLogs

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def profile_services(profile: str) -> list[str]:
    if profile not in PROFILES:
        raise NotFound(f"no profile {profile!r}; profiles: {', '.join(sorted(PROFILES))}")
    return [s.name for s in SERVICES if s.profile == profile]


def known_service(name: str) -> str:
    if name not in {s.name for s in SERVICES}:
        raise NotFound(f"no service {name!r}")
    return name


class ServiceManager(Protocol):
    kind: str

    async def list_services(self) -> list[ManagedService]: ...

    async def restart(self, name: str) -> ServiceAction: ...

    async def start_profile(self, profile: str) -> ServiceAction: ...

    async def start_service(self, name: str) -> ServiceAction: ...

    async def stop_service(self, name: str) -> ServiceAction: ...

    async def stop_profile(self, profile: str) -> ServiceAction: ...

    async def logs(self, name: str, lines: int) -> ServiceLogs: ...


@dataclass(frozen=True)
class ContainerRun:
    """A container recovery creates itself (an inference server Compose does not define), labelled as one of
    the project's services so it is listed, restarted and removed like the others."""

    service: str
    image: str
    command: list[str]
    network: str
    labels: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    gpus: bool = False
    ipc_host: bool = False


class DockerServices:
    """Compose containers of one project, through the docker SDK (blocking calls run in a thread)."""

    kind = "docker"

    def __init__(self, base_url: str, project: str, timeout: float = 30.0) -> None:
        self.base_url = base_url
        self.project = project
        self.timeout = timeout
        self._client: docker.DockerClient | None = None

    def _docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.base_url, timeout=int(self.timeout))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    async def _call(self, work: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(work, *args)
        except DockerException as exc:
            raise UpstreamUnavailable(
                f"the Docker Engine did not answer as expected: {type(exc).__name__}"
            ) from exc

    def _containers(self, service: str | None = None) -> list[Any]:
        labels = [f"{PROJECT_LABEL}={self.project}"]
        if service is not None:
            labels.append(f"{SERVICE_LABEL}={service}")
        containers: list[Any] = self._docker().containers.list(all=True, filters={"label": labels})
        return containers

    async def list_services(self) -> list[ManagedService]:
        containers = await self._call(self._containers)
        return [
            ManagedService(
                name=c.labels.get(SERVICE_LABEL, c.name), running=c.status == "running", detail=c.name
            )
            for c in containers
        ]

    async def _one(self, name: str) -> list[Any]:
        containers: list[Any] = await self._call(self._containers, known_service(name))
        if not containers:
            raise NotFound(f"no container of service {name!r} in Compose project {self.project!r}")
        return containers

    async def restart(self, name: str) -> ServiceAction:
        for container in await self._one(name):
            await self._call(lambda c=container: c.restart(timeout=10))
        return ServiceAction(action="restart", services=[name])

    async def _profile(self, profile: str, action: str) -> ServiceAction:
        names = profile_services(profile)
        done = []
        for name in names:
            containers = await self._call(self._containers, name)
            if not containers and action == "start":
                raise Conflict(
                    f"service {name!r} has no container yet: run `docker compose --profile {profile} up -d` once"
                )
            for container in containers:
                await self._call(lambda c=container: c.start() if action == "start" else c.stop(timeout=10))
            done.append(name)
        return ServiceAction(action=action, services=done)

    async def start_profile(self, profile: str) -> ServiceAction:
        return await self._profile(profile, "start")

    async def start_service(self, name: str) -> ServiceAction:
        for container in await self._containers_of(name):
            await self._call(container.start)
        return ServiceAction(action="start", services=[name])

    async def stop_service(self, name: str) -> ServiceAction:
        for container in await self._containers_of(name):
            await self._call(lambda c=container: c.stop(timeout=10))
        return ServiceAction(action="stop", services=[name])

    async def _containers_of(self, name: str) -> list[Any]:
        # Any Compose service name (the model server is `ollama` there, not a Nova service).
        containers: list[Any] = await self._call(self._containers, name)
        if not containers:
            raise NotFound(f"no container of service {name!r} in Compose project {self.project!r}")
        return containers

    async def stop_profile(self, profile: str) -> ServiceAction:
        return await self._profile(profile, "stop")

    async def running(self, name: str) -> bool:
        """Whether any container of Compose service `name` runs (False when it has none)."""
        containers = await self._call(self._containers, name)
        return any(c.status == "running" for c in containers)

    async def pull_image(self, image: str) -> None:
        """Pull `image` (repository:tag) unless the Engine has it already."""

        def pull() -> None:
            client = self._docker()
            try:
                client.images.get(image)
            except ImageNotFound:
                repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
                client.images.pull(repository, tag=tag or "latest")

        await self._call(pull)

    async def remove_service(self, name: str) -> list[str]:
        """Stop and remove every container of service `name`; the names removed."""
        containers = await self._call(self._containers, name)
        for container in containers:
            await self._call(lambda c=container: c.remove(force=True))
        return [c.name for c in containers]

    async def run_container(self, run: ContainerRun) -> str:
        """Create and start `run` as `<project>-<service>` on the project's network, reachable by its
        service name as Compose's own containers are. Returns the container's name."""
        name = f"{self.project}-{run.service}"
        labels = {PROJECT_LABEL: self.project, SERVICE_LABEL: run.service, **run.labels}

        def create() -> None:
            client = self._docker()
            client.containers.run(
                run.image,
                run.command,
                name=name,
                detach=True,
                labels=labels,
                environment=run.environment,
                volumes=run.volumes,
                network=run.network,
                networking_config={run.network: client.api.create_endpoint_config(aliases=[run.service])},
                device_requests=([DeviceRequest(count=-1, capabilities=[["gpu"]])] if run.gpus else None),
                ipc_mode="host" if run.ipc_host else None,
                restart_policy={"Name": "unless-stopped"},
            )

        await self._call(create)
        return name

    async def logs(self, name: str, lines: int) -> ServiceLogs:
        containers = await self._one(name)
        raw: bytes = await self._call(lambda: containers[0].logs(tail=lines, stdout=True, stderr=True))
        return ServiceLogs(name=name, lines=raw.decode(errors="replace").splitlines()[-lines:])


class LauncherServices:
    """The processes of `make run`, through the launcher's supervisor (loopback, service token)."""

    kind = "launcher"

    def __init__(self, base_url: str, service_token: str, timeout: float = 60.0) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={SERVICE_HEADER: service_token}, timeout=timeout
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the launcher's supervisor did not answer: {type(exc).__name__}"
            ) from exc
        if response.status_code == 404:
            raise NotFound(response.json().get("detail", "not found"))
        if response.status_code == 400:
            raise BadRequest(response.json().get("detail", "refused"))
        if response.status_code >= 300:
            raise UpstreamUnavailable(f"the launcher's supervisor answered HTTP {response.status_code}")
        return response.json()

    async def list_services(self) -> list[ManagedService]:
        body = await self._request("GET", "/processes")
        return [ManagedService.model_validate(p) for p in body["processes"]]

    async def restart(self, name: str) -> ServiceAction:
        await self._request("POST", f"/processes/{known_service(name)}/restart")
        return ServiceAction(action="restart", services=[name])

    async def start_profile(self, profile: str) -> ServiceAction:
        names = profile_services(profile)
        for name in names:
            await self._request("POST", f"/processes/{name}/start")
        return ServiceAction(action="start", services=names)

    async def stop_profile(self, profile: str) -> ServiceAction:
        names = profile_services(profile)
        for name in names:
            await self._request("POST", f"/processes/{name}/stop")
        return ServiceAction(action="stop", services=names)

    async def start_service(self, name: str) -> ServiceAction:
        await self._request("POST", f"/processes/{known_service(name)}/start")
        return ServiceAction(action="start", services=[name])

    async def stop_service(self, name: str) -> ServiceAction:
        await self._request("POST", f"/processes/{known_service(name)}/stop")
        return ServiceAction(action="stop", services=[name])

    async def logs(self, name: str, lines: int) -> ServiceLogs:
        body = await self._request("GET", f"/processes/{known_service(name)}/logs", params={"lines": lines})
        return ServiceLogs(name=name, lines=body["lines"])
