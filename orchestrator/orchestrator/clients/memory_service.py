"""Typed calls to memory-service (`/api/v1/memories/*`)."""

from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_contracts.memory import (
    ContextRequest,
    ContextResponse,
    FactUpsert,
    FactUpsertResult,
    FeedbackRequest,
    FeedbackResult,
    IngestAccepted,
    IngestRequest,
    Memory,
    MemoryCreate,
    MemorySearchRequest,
    MemorySearchResponse,
)

SERVICE = "memory-service"
BASE = "/api/v1/memories"
ResponseT = TypeVar("ResponseT", bound=BaseModel)


class MemoryServiceClient:
    def __init__(self, client: ServiceClient, *, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    async def _post(self, path: str, body: BaseModel, model: type[ResponseT]) -> ResponseT:
        try:
            response = await self.client.post(
                path,
                content=body.model_dump_json(exclude_none=True),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"{SERVICE} did not answer within {self.timeout:.0f}s") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{SERVICE} is unreachable ({type(exc).__name__})") from exc
        if response.status_code not in (200, 201, 202):
            try:
                detail = response.json().get("detail", "")
            except ValueError:
                detail = response.text[:300]
            raise UpstreamUnavailable(f"{SERVICE} answered {response.status_code}: {detail}")
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamUnavailable(f"{SERVICE} sent a malformed {model.__name__}") from exc

    async def context(self, agent_id: str, request: ContextRequest) -> ContextResponse:
        return await self._post(f"{BASE}/{agent_id}/context", request, ContextResponse)

    async def store(self, memory: MemoryCreate) -> Memory:
        return await self._post(BASE, memory, Memory)

    async def search(self, request: MemorySearchRequest) -> MemorySearchResponse:
        return await self._post(f"{BASE}/search", request, MemorySearchResponse)

    async def upsert_fact(self, fact: FactUpsert) -> FactUpsertResult:
        return await self._post(f"{BASE}/facts", fact, FactUpsertResult)

    async def ingest(self, request: IngestRequest) -> IngestAccepted:
        """Queue a text for memory formation (facts, preferences, entities); returns once it is queued."""
        return await self._post(f"{BASE}/ingest", request, IngestAccepted)

    async def feedback(self, request: FeedbackRequest) -> FeedbackResult:
        return await self._post(f"{BASE}/feedback", request, FeedbackResult)
