"""Pod rules: regex and fallback checks, name conflicts, preset seeding, routing of submitted goals."""

import re
import uuid
from typing import Any

import asyncpg

from nova_common.errors import BadRequest, Conflict, NotFound
from nova_contracts.orchestrator import PodCreate, PodInfo, PodUpdate
from orchestrator.pipeline.pods.presets import PRESETS
from orchestrator.pipeline.pods.repository import PodRepository
from orchestrator.pipeline.pods.routing import resolve_enabled, route


def _check_regex(pattern: str | None) -> None:
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadRequest(f"routing_regex does not compile: {exc}") from exc


class PodService:
    def __init__(self, repository: PodRepository) -> None:
        self.repository = repository

    async def seed_presets(self) -> list[str]:
        return await self.repository.seed(PRESETS)

    async def all(self) -> list[PodInfo]:
        return [PodInfo.model_validate(p) for p in await self.repository.all()]

    async def get(self, pod_id: uuid.UUID) -> PodInfo:
        pod = await self.repository.get(pod_id)
        if pod is None:
            raise NotFound(f"pod {pod_id} not found")
        return PodInfo.model_validate(pod)

    async def create(self, body: PodCreate) -> PodInfo:
        _check_regex(body.routing_regex)
        try:
            pod_id = await self.repository.create(body)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a pod named {body.name!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise BadRequest(f"fallback pod {body.fallback_pod_id} does not exist") from exc
        return await self.get(pod_id)

    async def update(self, pod_id: uuid.UUID, body: PodUpdate) -> PodInfo:
        changes = body.model_dump(mode="json")
        _check_regex(changes.get("routing_regex"))
        if changes.get("fallback_pod_id") == str(pod_id):
            raise BadRequest("a pod cannot be its own fallback")
        try:
            found = await self.repository.update(pod_id, changes, body.agents)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a pod named {body.name!r} already exists") from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise BadRequest(f"fallback pod {body.fallback_pod_id} does not exist") from exc
        if not found:
            raise NotFound(f"pod {pod_id} not found")
        return await self.get(pod_id)

    async def delete(self, pod_id: uuid.UUID) -> None:
        if not await self.repository.delete(pod_id):
            raise NotFound(f"pod {pod_id} not found")

    async def choose(self, goal: str, pod_id: uuid.UUID | None) -> dict[str, Any]:
        """The pod a new task runs in: the one named (or its fallback when disabled), else by routing."""
        pods = await self.repository.all()
        if pod_id is not None:
            named = next((p for p in pods if p["id"] == pod_id), None)
            if named is None:
                raise NotFound(f"pod {pod_id} not found")
            chosen = resolve_enabled(pods, named)
            if chosen is None:
                raise Conflict(f"pod {named['name']!r} is disabled and has no enabled fallback")
            return chosen
        chosen = route(pods, goal)
        if chosen is None:
            raise Conflict("no enabled pod matches this goal and there is no enabled default pod")
        return chosen
