"""Typed calls to the orchestrator: API-key validation, the chat agent, and the streamed agent turn."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import httpx
import structlog

from nova_common.auth import SERVICE_HEADER
from nova_common.errors import NovaError, UpstreamUnavailable
from nova_common.http import NOT_STARTED_STATUSES, ServiceClient, peer_error, response_detail
from nova_common.sse import sse_data
from nova_contracts.chat import ChatStreamEvent
from nova_contracts.llm import Message
from nova_contracts.orchestrator import (
    AgentConfig,
    AgentInfo,
    CreateAgentRequest,
    SubmitTaskRequest,
)

log = structlog.get_logger("chat_api.orchestrator")

# A turn may run several tool rounds before its first token; the read timeout is the longest silence allowed.
# No pool timeout: a turn waiting for a free connection has not been sent yet and should simply wait.
STREAM_TIMEOUT = httpx.Timeout(connect=3.0, read=180.0, write=30.0, pool=None)
CALL_TIMEOUT = httpx.Timeout(10.0, connect=3.0)

# The header and value a client's requests are sent with (`X-API-Key` or `X-Admin-Secret`).
Credential = tuple[str, str]


class OrchestratorUnavailable(UpstreamUnavailable):
    """The orchestrator did not take the request; nothing was processed, so it can be sent again."""


class ChatAgentMissing(NovaError):
    status_code = 404
    code = "agent_missing"


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    if response.status_code in NOT_STARTED_STATUSES:
        # Answered before doing any work (a proxy, a starting orchestrator): safe to send again later.
        raise OrchestratorUnavailable(
            f"orchestrator answered {response.status_code}: {response_detail(response)}"
        )
    raise peer_error("orchestrator", response)


class ChatOrchestratorClient:
    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def is_live(self) -> bool:
        try:
            response = await self._service.http.get("/health/live", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def create_agent(self, name: str, model: str | None, credential: Credential | None) -> UUID:
        body = CreateAgentRequest(config=AgentConfig(name=name, model=model))
        request = self._as_caller(
            "POST", "/api/v1/agents", credential, content=body.model_dump_json(), timeout=CALL_TIMEOUT
        )
        try:
            response = await self._service.http.send(request)
        except httpx.HTTPError as exc:
            raise OrchestratorUnavailable(f"orchestrator is unreachable ({type(exc).__name__})") from exc
        _raise_for_status(response)
        return AgentInfo.model_validate_json(response.content).id

    def _as_caller(
        self, method: str, url: str, credential: Credential | None, **kwargs: Any
    ) -> httpx.Request:
        """A request made with the client's credential, not as chat-api: the orchestrator authenticates a
        request by its service token first, which would bypass the key's rate limit and tenancy."""
        request = self._service.http.build_request(method, url, **kwargs)
        request.headers.pop(SERVICE_HEADER, None)
        request.headers["Content-Type"] = "application/json"
        if credential is not None:
            header, value = credential
            request.headers[header] = value
        return request

    @asynccontextmanager
    async def stream_turn(
        self,
        *,
        agent_id: UUID,
        session_id: str,
        messages: list[Message],
        credential: Credential | None,
        metadata: dict[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[ChatStreamEvent]]:
        """Open `POST /api/v1/tasks/stream`; yields the event iterator once the orchestrator accepted the turn.

        Raises `OrchestratorUnavailable` only when the turn was not accepted (connection refused, 502/503/504),
        so the caller may send it again without the orchestrator seeing it twice.
        """
        body = SubmitTaskRequest(
            agent_id=agent_id, messages=messages, session_id=session_id, metadata=metadata or {}
        )
        request = self._as_caller(
            "POST",
            "/api/v1/tasks/stream",
            credential,
            content=body.model_dump_json(),
            timeout=STREAM_TIMEOUT,
        )
        request.headers["Accept"] = "text/event-stream"
        try:
            response = await self._service.http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            # RemoteProtocolError here is "disconnected before any response": the process went away.
            raise OrchestratorUnavailable(f"orchestrator is unreachable ({type(exc).__name__})") from exc
        try:
            if response.status_code >= 400:
                await response.aread()
                if response.status_code == 404 and "agent" in response_detail(response).lower():
                    raise ChatAgentMissing(response_detail(response))
                _raise_for_status(response)
            yield _events(response)
        finally:
            await response.aclose()


async def _events(response: httpx.Response) -> AsyncIterator[ChatStreamEvent]:
    async for payload in sse_data(response.aiter_lines()):
        try:
            yield ChatStreamEvent.model_validate_json(payload)
        except ValueError:
            log.warning("unparseable_stream_event", payload=payload[:200])
