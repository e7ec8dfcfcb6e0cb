"""Typed calls to the orchestrator: the bridge's agent, one streamed turn collected into a reply, settings."""

import contextlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import structlog

from nova_common.auth import SERVICE_HEADER
from nova_common.errors import NovaError, UpstreamUnavailable
from nova_common.http import ServiceClient, peer_error, response_detail
from nova_common.sse import sse_data
from nova_contracts.chat import ChatStreamEvent
from nova_contracts.llm import Message
from nova_contracts.orchestrator import (
    AgentConfig,
    AgentInfo,
    CreateAgentRequest,
    SubmitTaskRequest,
    UpdateAgentRequest,
)

log = structlog.get_logger("chat_bridge.orchestrator")

STREAM_TIMEOUT = httpx.Timeout(connect=3.0, read=180.0, write=30.0, pool=10.0)
CALL_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class BridgeAgentMissing(NovaError):
    status_code = 404
    code = "agent_missing"


@dataclass(frozen=True)
class CollectedReply:
    text: str
    error: str | None = None


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    if response.status_code == 404 and "agent" in response_detail(response).lower():
        raise BridgeAgentMissing(response_detail(response))
    raise peer_error("orchestrator", response)


class BridgeOrchestratorClient:
    def __init__(self, service: ServiceClient, *, api_key: str) -> None:
        self._service = service
        self._api_key = api_key

    async def is_live(self) -> bool:
        try:
            response = await self._service.http.get("/health/live", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """With NOVA_API_KEY the bridge calls as that key (its rate limit and usage); without one it calls as
        a Nova service (the service token). The orchestrator looks at the service token first, so only one
        of the two may be sent."""
        request = self._service.http.build_request(method, url, **kwargs)
        request.headers["Content-Type"] = "application/json"
        if self._api_key:
            request.headers.pop(SERVICE_HEADER, None)
            request.headers["X-API-Key"] = self._api_key
        return request

    async def create_agent(self, name: str, model: str | None, tools: list[str]) -> UUID:
        body = CreateAgentRequest(config=AgentConfig(name=name, model=model, tools=tools))
        response = await self._call("POST", "/api/v1/agents", content=body.model_dump_json())
        return AgentInfo.model_validate_json(response.content).id

    async def limit_tools(self, agent_id: UUID, tools: list[str]) -> None:
        """Give the agent exactly `tools` unless it has them already; `BridgeAgentMissing` if it is gone."""
        agent = AgentInfo.model_validate_json((await self._call("GET", f"/api/v1/agents/{agent_id}")).content)
        if sorted(agent.config.tools) == sorted(tools):
            return
        body = UpdateAgentRequest(tools=tools)
        await self._call("PATCH", f"/api/v1/agents/{agent_id}/config", content=body.model_dump_json())
        log.info("bridge_agent_tools_limited", agent_id=str(agent_id), tools=tools)

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        request = self._request(method, url, timeout=CALL_TIMEOUT, **kwargs)
        try:
            response = await self._service.http.send(request)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"orchestrator is unreachable ({type(exc).__name__})") from exc
        _raise_for_status(response)
        return response

    async def ask(
        self, *, agent_id: UUID, session_id: str, messages: list[Message], channel: str
    ) -> CollectedReply:
        """Run one turn through `POST /api/v1/tasks/stream` and collect the streamed text into one reply."""
        body = SubmitTaskRequest(
            agent_id=agent_id, messages=messages, session_id=session_id, metadata={"channel": channel}
        )
        request = self._request(
            "POST", "/api/v1/tasks/stream", content=body.model_dump_json(), timeout=STREAM_TIMEOUT
        )
        request.headers["Accept"] = "text/event-stream"
        parts: list[str] = []
        try:
            response = await self._service.http.send(request, stream=True)
            async with contextlib.aclosing(response):
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response)
                async for payload in sse_data(response.aiter_lines()):
                    try:
                        event = ChatStreamEvent.model_validate_json(payload)
                    except ValueError:
                        log.warning("unparseable_stream_event", payload=payload[:200])
                        continue
                    if event.error:
                        return CollectedReply(text="".join(parts), error=event.error)
                    if event.delta:
                        parts.append(event.delta)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UpstreamUnavailable(f"orchestrator is unreachable ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            if parts:
                return CollectedReply(text="".join(parts), error="the answer was interrupted")
            raise UpstreamUnavailable(f"orchestrator stream failed ({type(exc).__name__})") from exc
        return CollectedReply(text="".join(parts))
