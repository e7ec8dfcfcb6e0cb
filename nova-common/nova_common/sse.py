"""Server-Sent Events the Nova way: one JSON object per `data:` line, then `data: [DONE]`."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

DONE = "[DONE]"
# Reading past `[DONE]` to the end of the body: a peer that goes on streaming is left after this many lines.
_TAIL_LINES = 16
_TAIL_SECONDS = 1.0


class StreamEndedEarly(Exception):
    """The peer closed an event stream without its final `data: [DONE]`."""


async def sse_data(lines: AsyncIterable[str], *, require_done: bool = False) -> AsyncIterator[str]:
    """The `data:` payloads of an SSE body (e.g. `response.aiter_lines()`), up to `[DONE]`.

    Blank separators, `: ping` comments and `event:` names are skipped. With `require_done`, a stream that
    ends without `[DONE]` raises `StreamEndedEarly` (the peer died mid-answer).
    """
    async for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == DONE:
            await _read_tail(lines)
            return
        yield payload
    if require_done:
        raise StreamEndedEarly("the stream ended before [DONE]")


async def _read_tail(lines: AsyncIterable[str]) -> None:
    """Read what follows `[DONE]` (a Nova peer ends its body right after it). An HTTP client pools a
    connection again only when its body was read to the end: stopping at `[DONE]` made every streamed call
    (orchestrator → llm-gateway on each chat turn) open a new TCP connection."""
    # The answer is complete: failing to read its tail costs only the connection, never the caller's result.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_TAIL_SECONDS):
            count = 0
            async for _ in lines:
                count += 1
                if count >= _TAIL_LINES:
                    break


def _encode(item: BaseModel | dict[str, Any] | str) -> str:
    if isinstance(item, BaseModel):
        return item.model_dump_json(exclude_none=True)
    if isinstance(item, dict):
        return json.dumps(item, separators=(",", ":"), default=str)
    return item


def _frame(data: str) -> bytes:
    """The event's bytes, as `ServerSentEvent(data=data).encode()` writes them, without building one for
    every chunk of every stream when the payload is one line (compact JSON always is)."""
    if "\n" in data or "\r" in data:
        return ServerSentEvent(data=data).encode()
    return b"data: " + data.encode() + b"\r\n\r\n"


_DONE_FRAME = _frame(DONE)


def json_event_stream(
    request: Request,
    items: AsyncIterator[BaseModel | dict[str, Any] | str],
    *,
    headers: dict[str, str] | None = None,
    ping_seconds: int = 15,
) -> EventSourceResponse:
    """Stream `items` as SSE. When the client disconnects the generator is closed, which cancels upstream work.

    `request` is kept for the callers; the disconnect is seen by the response's own listener, which cancels
    the stream at once (asking `request.is_disconnected()` before every event as well cost a receive and a
    cancel scope per event, on every chat turn).
    """

    async def events() -> AsyncIterator[bytes]:
        try:
            async for item in items:
                yield _frame(_encode(item))
            else:
                yield _DONE_FRAME
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                await aclose()

    return EventSourceResponse(
        events(),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
        ping=ping_seconds,
        sep="\n",
    )
