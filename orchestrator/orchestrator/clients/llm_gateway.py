"""Typed calls to llm-gateway: `/complete` for tool rounds, `/stream` (SSE of `StreamChunk`) for answers."""

from collections.abc import AsyncGenerator

import httpx
from pydantic import ValidationError

from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient, body_detail
from nova_common.sse import StreamEndedEarly, sse_data
from nova_contracts.llm import CompleteRequest, CompleteResponse, StreamChunk

SERVICE = "llm-gateway"


def _failure(status: int, body: bytes) -> UpstreamUnavailable:
    return UpstreamUnavailable(f"{SERVICE} answered {status}: {body_detail(status, body)}")


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
            raise _failure(response.status_code, response.content)
        try:
            return CompleteResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise UpstreamUnavailable(f"{SERVICE} sent a malformed completion") from exc

    async def stream(
        self, request: CompleteRequest, *, time_limit: float
    ) -> AsyncGenerator[StreamChunk, None]:
        """Yield the chunks of `/stream`; an in-band error chunk or a broken stream raises `UpstreamUnavailable`."""
        async with self.client.post_stream(
            "/stream",
            request.model_dump_json(exclude_none=True).encode(),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
            read_timeout=time_limit,
        ) as response:
            if response.status != 200:
                raise _failure(response.status, await response.read())
            try:
                async for data in sse_data(response.lines(), require_done=True):
                    try:
                        chunk = StreamChunk.model_validate_json(data)
                    except ValidationError as exc:
                        raise UpstreamUnavailable(f"{SERVICE} sent a malformed stream chunk") from exc
                    if chunk.error is not None:
                        raise UpstreamUnavailable(f"{SERVICE}: {chunk.error}")
                    yield chunk
            except StreamEndedEarly as exc:
                raise UpstreamUnavailable(f"{SERVICE} closed the stream before [DONE]") from exc
