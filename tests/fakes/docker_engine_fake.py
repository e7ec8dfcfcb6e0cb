"""A fake Docker Engine API on loopback: enough of it for the `docker` SDK to list, inspect, start, stop and
restart containers and read their logs, with Compose's labels.

fake = FakeDockerEngine(project="nova")
fake.add("orchestrator"); fake.add("chat-bridge", running=False)
with serve_in_thread(fake.app) as live:
    client = docker.DockerClient(base_url=live.url)  # tcp to the fake; the SDK runs its real code
"""

import json
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_VERSION = "1.44"


@dataclass
class FakeContainer:
    id: str
    name: str
    labels: dict[str, str]
    running: bool = True
    restart_count: int = 0
    log_lines: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "Image": "nova:test",
            "Labels": self.labels,
            "State": "running" if self.running else "exited",
            "Status": "Up 1 minute" if self.running else "Exited (0)",
        }

    def inspect(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": f"/{self.name}",
            "RestartCount": self.restart_count,
            "Config": {"Labels": self.labels, "Tty": False, "Image": "nova:test"},
            "State": {"Status": "running" if self.running else "exited", "Running": self.running},
        }


class FakeDockerEngine:
    def __init__(self, project: str = "nova") -> None:
        self.project = project
        self.containers: dict[str, FakeContainer] = {}
        self.calls: list[tuple[str, str]] = []
        routes = [
            Route("/version", self.version),
            Route("/v{v}/version", self.version),
            Route("/_ping", self.ping),
            Route("/v{v}/_ping", self.ping),
            Route("/v{v}/containers/json", self.list_containers),
            Route("/v{v}/containers/{id}/json", self.inspect),
            Route("/v{v}/containers/{id}/{action:str}", self.act, methods=["POST"]),
            Route("/v{v}/containers/{id}/logs", self.logs),
        ]
        self.app = Starlette(routes=routes)

    def add(self, service: str, *, running: bool = True, logs: list[str] | None = None) -> FakeContainer:
        container = FakeContainer(
            id=uuid.uuid4().hex + uuid.uuid4().hex,
            name=f"{self.project}-{service}-1",
            labels={"com.docker.compose.project": self.project, "com.docker.compose.service": service},
            running=running,
            log_lines=logs or [f"{service} line {i}" for i in range(5)],
        )
        self.containers[container.id] = container
        return container

    def by_service(self, service: str) -> FakeContainer:
        return next(c for c in self.containers.values() if c.labels["com.docker.compose.service"] == service)

    def _find(self, ident: str) -> FakeContainer | None:
        for container in self.containers.values():
            if container.id.startswith(ident) or container.name == ident:
                return container
        return None

    async def version(self, request: Request) -> Response:
        return JSONResponse({"ApiVersion": API_VERSION, "Version": "27.0.0-fake", "MinAPIVersion": "1.24"})

    async def ping(self, request: Request) -> Response:
        return Response("OK", media_type="text/plain")

    async def list_containers(self, request: Request) -> Response:
        include_stopped = request.query_params.get("all") in ("1", "true", "True")
        filters = json.loads(request.query_params.get("filters") or "{}")
        wanted = [label.split("=", 1) for label in filters.get("label", [])]
        found = [
            c.summary()
            for c in self.containers.values()
            if (include_stopped or c.running)
            and all(c.labels.get(k) == (v[0] if v else c.labels.get(k)) for k, *v in wanted)
        ]
        return JSONResponse(found)

    async def inspect(self, request: Request) -> Response:
        container = self._find(request.path_params["id"])
        if container is None:
            return JSONResponse({"message": "No such container"}, status_code=404)
        return JSONResponse(container.inspect())

    async def act(self, request: Request) -> Response:
        container = self._find(request.path_params["id"])
        action = request.path_params["action"]
        if container is None:
            return JSONResponse({"message": "No such container"}, status_code=404)
        self.calls.append((action, container.labels["com.docker.compose.service"]))
        if action == "restart":
            container.running, container.restart_count = True, container.restart_count + 1
        elif action == "start":
            if container.running:
                return Response(status_code=304)
            container.running = True
        elif action == "stop":
            if not container.running:
                return Response(status_code=304)
            container.running = False
        else:
            return JSONResponse({"message": f"unsupported action {action}"}, status_code=404)
        return Response(status_code=204)

    async def logs(self, request: Request) -> Response:
        container = self._find(request.path_params["id"])
        if container is None:
            return JSONResponse({"message": "No such container"}, status_code=404)
        tail = request.query_params.get("tail", "all")
        lines = container.log_lines if tail == "all" else container.log_lines[-int(tail) :]
        # Not a TTY: the multiplexed stream, one frame per line (stream 1 = stdout).
        body = b"".join(struct.pack(">BxxxL", 1, len(line) + 1) + line.encode() + b"\n" for line in lines)
        return Response(body, media_type="application/vnd.docker.multiplexed-stream")
