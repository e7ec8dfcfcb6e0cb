"""Pod rules: regex and fallback checks, name conflicts, preset seeding, routing of submitted goals.

Every submission routes over all pods, so they are cached in each process. A change made through any
orchestrator clears every process's cache (a Redis message); the cache also expires on its own, in case
a message was missed while a listener reconnected.
"""

import re
import time
import uuid
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import structlog

from nova_common.errors import BadRequest, Conflict, NotFound
from nova_contracts.orchestrator import PodAgentConfig, PodCreate, PodInfo, PodUpdate
from orchestrator.pipeline.pods.presets import PRESETS
from orchestrator.pipeline.pods.repository import PodRepository
from orchestrator.pipeline.pods.routing import resolve_enabled, route

log = structlog.get_logger("orchestrator.pipeline.pods")
PODS_CHANGED_CHANNEL = "nova:pipeline:pods_changed"


def _check_regex(pattern: str | None) -> None:
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadRequest(f"routing_regex does not compile: {exc}") from exc


class PodService:
    def __init__(
        self, repository: PodRepository, redis: aioredis.Redis | None = None, *, cache_seconds: float = 30.0
    ) -> None:
        self.repository = repository
        self.redis = redis
        self.cache_seconds = cache_seconds
        self._cached: list[dict[str, Any]] | None = None
        self._cached_at = 0.0
        self._generation = 0

    async def seed_presets(self) -> list[str]:
        seeded = await self.repository.seed(PRESETS)
        if seeded:
            await self._changed()
        return seeded

    async def _pods(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """All pods with their agents, from the cache unless it is cleared, expired or `fresh` is asked."""
        if fresh or self._cached is None or time.monotonic() - self._cached_at > self.cache_seconds:
            generation, read_at = self._generation, time.monotonic()
            pods = await self.repository.all()
            # A change announced during the read may not be in it: use it this once, do not keep it.
            if generation == self._generation:
                self._cached, self._cached_at = pods, read_at
            return pods
        return self._cached

    def forget_cached(self) -> None:
        self._cached = None
        self._generation += 1

    async def _changed(self) -> None:
        """Clear this process's cache and tell the other orchestrators to clear theirs."""
        self.forget_cached()
        if self.redis is None:
            return
        try:
            await self.redis.publish(PODS_CHANGED_CHANNEL, "1")
        except Exception:
            # Their caches expire within cache_seconds anyway.
            log.warning("pods_changed_not_published")

    async def listen_for_changes(self) -> None:
        """Clear the cache whenever any orchestrator changes a pod."""
        assert self.redis is not None
        pubsub: Any = self.redis.pubsub()
        await pubsub.subscribe(PODS_CHANGED_CHANNEL)
        # Changes made while we were not subscribed are unknown: start from the database.
        self.forget_cached()
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if message is not None and message.get("type") == "message":
                    self.forget_cached()
        finally:
            await pubsub.aclose()

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
        await self._changed()
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
        await self._changed()
        return await self.get(pod_id)

    async def add_agent(self, pod_id: uuid.UUID, agent: PodAgentConfig) -> PodAgentConfig:
        try:
            await self.repository.add_agent(pod_id, agent)
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"pod {pod_id} not found") from exc
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"pod {pod_id} already has an agent named {agent.name!r}") from exc
        await self._changed()
        return next(a for a in (await self.get(pod_id)).agents if a.name == agent.name)

    async def remove_agent(self, pod_id: uuid.UUID, name: str) -> None:
        await self.get(pod_id)  # a 404 names the pod, not the agent, when the pod is gone
        if not await self.repository.remove_agent(pod_id, name):
            raise NotFound(f"pod {pod_id} has no agent named {name!r}")
        await self._changed()

    async def delete(self, pod_id: uuid.UUID) -> None:
        if not await self.repository.delete(pod_id):
            raise NotFound(f"pod {pod_id} not found")
        await self._changed()

    async def choose(self, goal: str, pod_id: uuid.UUID | None) -> dict[str, Any]:
        """The pod a new task runs in: the one named (or its fallback when disabled), else by routing."""
        pods = await self._pods()
        if pod_id is not None:
            named = next((p for p in pods if p["id"] == pod_id), None)
            if named is None:
                # Perhaps created a moment ago through another orchestrator.
                pods = await self._pods(fresh=True)
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
