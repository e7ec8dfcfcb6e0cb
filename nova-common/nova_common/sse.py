"""Server-Sent Events the Nova way: one JSON object per `data:` line, then `data: [DONE]`.

`EventStream` is the response every Nova stream is served with. sse-starlette's response, used before, runs
four tasks in an anyio task group per stream (the stream, a ping timer, a shutdown listener, a disconnect
listener) and takes a lock for every event; on the paths every chat turn and model call take, that was a
third of a millisecond of CPU per stream on a 2-core machine. `EventStream` streams in the request's own task
with one helper task that both listens for the client leaving and sends a ping comment when the stream has
been quiet for `ping_seconds`. The server's shutdown ends every open stream at once (`close_event_streams`,
called by the kit's uvicorn server) instead of holding the shutdown for its grace period.
"""

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

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


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _frame(data: str) -> bytes:
    """One event: a `data:` line per line of `data` (compact JSON is always one), then a blank line."""
    if "\n" in data or "\r" in data:
        return "".join(f"data: {line}\r\n" for line in _LINE_BREAK.split(data)).encode() + b"\r\n"
    return b"data: " + data.encode() + b"\r\n\r\n"


_DONE_FRAME = _frame(DONE)
_PING_FRAME = b": ping\r\n\r\n"

# Every stream being served, so that the server's shutdown can end them (`close_event_streams`).
_open_streams: set["EventStream"] = set()


def close_event_streams() -> None:
    """End every open event stream now (the server is shutting down): each stops where it is, its source is
    closed, and its client sees the body end without `[DONE]`, as when any peer goes away mid-stream."""
    for stream in list(_open_streams):
        stream.stop()


class EventStream(Response):
    """An SSE response over `frames` (encoded events), served in the request's task: see the module's doc."""

    media_type = "text/event-stream"

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        status_code: int = 200,  # FastAPI's OpenAPI reads a response class's status from this default
        *,
        headers: Mapping[str, str] | None = None,
        ping_seconds: float = 15,
    ) -> None:
        # As Starlette's StreamingResponse: no body, so no Content-Length.
        self.status_code = status_code
        self.background = None
        self.frames = frames
        self.ping_seconds = ping_seconds
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._last_sent = 0.0
        self._streaming = False  # between the response's start and its source's end: what `stop` may cut
        self._stopped = False

    def stop(self) -> None:
        """End the stream where it is (the client left, or the server shuts down); safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        # Only while streaming: a stream already closing its source or ending its body is let finish.
        if self._streaming and not self._stopped and self._task is not None:
            self._stopped = True
            self._task.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._last_sent = self._loop.time()
        watcher = self._loop.create_task(self._watch(receive, send))
        _open_streams.add(self)
        self._streaming = True
        try:
            await send(start)
            async for frame in self.frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                self._last_sent = self._loop.time()
        except asyncio.CancelledError:
            if not self._stopped:
                raise  # cancelled from outside: not ours to swallow
            assert self._task is not None
            self._task.uncancel()
        finally:
            self._streaming = False
            _open_streams.discard(self)
            watcher.cancel()
            # The source is closed whatever ended the stream: that is what stops the work behind it.
            aclose = getattr(self.frames, "aclose", None)
            if aclose is not None:
                await aclose()
        with contextlib.suppress(OSError):  # the client may be gone already
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive, send: Send) -> None:
        """Until the client leaves: a ping comment whenever the stream was quiet for `ping_seconds`."""
        assert self._loop is not None
        while True:
            quiet_for = self._loop.time() - self._last_sent
            if self.ping_seconds > 0 and quiet_for >= self.ping_seconds:
                await send({"type": "http.response.body", "body": _PING_FRAME, "more_body": True})
                self._last_sent = self._loop.time()
                continue
            try:
                async with asyncio.timeout(self.ping_seconds - quiet_for if self.ping_seconds > 0 else None):
                    message = await receive()
            except TimeoutError:
                continue
            if message["type"] == "http.disconnect":
                self._cancel()
                return


def json_event_stream(
    request: Request,
    items: AsyncIterator[BaseModel | dict[str, Any] | str],
    *,
    headers: dict[str, str] | None = None,
    ping_seconds: int = 15,
) -> EventStream:
    """Stream `items` as SSE, then `data: [DONE]`. When the client disconnects (or the server shuts down) the
    generator is closed, which cancels upstream work.

    `request` is kept for the callers; the disconnect is seen by the response's own listener.
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

    return EventStream(events(), headers=headers, ping_seconds=ping_seconds)
