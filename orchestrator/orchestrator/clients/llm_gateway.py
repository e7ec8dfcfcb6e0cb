"""Typed calls to llm-gateway: `/complete` for tool rounds, `/stream` (SSE of `StreamChunk`) for answers."""

from collections.abc import AsyncGenerator

import httpx
from pydantic import ValidationError

from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient, response_detail
from nova_common.sse import StreamEndedEarly, sse_data
from nova_contracts.llm import CompleteRequest, CompleteResponse, StreamChunk

SERVICE = "llm-gateway"


def _failure(response: httpx.Response) -> UpstreamUnavailable:
    return UpstreamUnavailable(f"{SERVICE} answered {response.status_code}: {response_detail(response)}")


class LlmGatewayClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def complete(self, request: CompleteRequest, *, time_limit: float) -> CompleteResponse:
        try:
            response = await self.client.post(
                "/complete",
                content=request.model_dump_json(exclude_none=True),
                timeout=time_limit,
                headers={"Content-Type": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"{SERVICE} did not answer within {time_limit:.0f}s") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{SERVICE} is unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise _failure(response)
        try:
            return CompleteResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamUnavailable(f"{SERVICE} sent a malformed completion") from exc

    async def stream(
        self, request: CompleteRequest, *, time_limit: float
    ) -> AsyncGenerator[StreamChunk, None]:
        """Yield the chunks of `/stream`; an in-band error chunk or a broken stream raises `UpstreamUnavailable`."""
        try:
            async with self.client.http.stream(
                "POST",
                "/stream",
                content=request.model_dump_json(exclude_none=True),
                headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
                timeout=httpx.Timeout(time_limit, connect=3.0),
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _failure(response)
                async for data in sse_data(response.aiter_lines(), require_done=True):
                    try:
                        chunk = StreamChunk.model_validate_json(data)
                    except ValidationError as exc:
                        raise UpstreamUnavailable(f"{SERVICE} sent a malformed stream chunk") from exc
                    if chunk.error is not None:
                        raise UpstreamUnavailable(f"{SERVICE}: {chunk.error}")
                    yield chunk
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable(f"{SERVICE} did not answer within {time_limit:.0f}s") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{SERVICE} is unreachable ({type(exc).__name__})") from exc
        except StreamEndedEarly as exc:
            raise UpstreamUnavailable(f"{SERVICE} closed the stream before [DONE]") from exc
