"""Live WebSocket connections: a bounded send queue per client, connection limits, and who listens to a session.

Nothing that produces frames ever awaits a client's socket: frames go into the client's own queue, bounded in
bytes, and a writer task per connection drains it. A client that reads too slowly lets its queue fill up and is
disconnected (close code 1013), while every other client keeps receiving at its own pace. The bound is in bytes,
not frames, because an answer arrives in bursts of hundreds of tiny chunks that a healthy client absorbs at once.
"""

import asyncio
import contextlib
from collections import defaultdict, deque
from dataclasses import dataclass, field

import structlog
from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketState

from chat_api.callers import Caller

log = structlog.get_logger("chat_api.connections")

# Close codes: 4001 is the seed's "bad or missing token"; the rest are RFC 6455's.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHORIZED = 4001
CLOSE_TIMEOUT_SECONDS = 5.0

# Strong references to the fire-and-forget close tasks (the loop only keeps weak ones).
_closing: set[asyncio.Task[None]] = set()


class ClientConnection:
    def __init__(self, ws: WebSocket, ip: str, *, max_queued_bytes: int) -> None:
        self.ws = ws
        self.ip = ip
        self.session_id: str | None = None
        self.caller: Caller | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._max_queued_bytes = max_queued_bytes
        self._ready = asyncio.Event()  # frames are waiting
        self._drained = asyncio.Event()  # nothing is waiting or being written
        self._drained.set()
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{id(self)}")

    def send(self, frame: BaseModel) -> bool:
        """Queue a frame without waiting; False if the client is gone or too slow (and now disconnected)."""
        if self.closed.is_set():
            return False
        text = frame.model_dump_json(exclude_none=True)
        if self._queued_bytes + len(text) > self._max_queued_bytes:
            log.warning(
                "client_too_slow", ip=self.ip, session_id=self.session_id, queued_bytes=self._queued_bytes
            )
            self.close(CLOSE_TRY_AGAIN_LATER, "client too slow: send queue full")
            return False
        self._queue.append(text)
        self._queued_bytes += len(text)
        self._ready.set()
        self._drained.clear()
        return True

    async def flush(self, within: float) -> bool:
        """Wait (bounded) until every queued frame is written; whether they all were (a client that reads its
        answer and then leaves at once did get it)."""
        drained = asyncio.ensure_future(self._drained.wait())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait((drained, closed), timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
            closed.cancel()
        return self._drained.is_set()

    def close(self, code: int, reason: str) -> None:
        """Stop the writer and close the socket in the background; the handler sees `closed` and returns."""
        already_closed = self.closed.is_set()
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
        if not already_closed:
            self.close_code = code
            task = asyncio.create_task(self._close_socket(code, reason), name=f"ws-close-{id(self)}")
            self._closing = task
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    async def wait_closed(self) -> None:
        """Let the close frame go out before the handler returns (uvicorn drops the socket after that)."""
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._closing)

    async def _close_socket(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.CONNECTED:
            return
        # A client that stopped reading may never take the close frame; do not wait for it forever.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason), CLOSE_TIMEOUT_SECONDS)

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._ready.wait()
                while self._queue:
                    text = self._queue.popleft()
                    await self.ws.send_text(text)
                    self._queued_bytes -= len(text)
                self._ready.clear()
                self._drained.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away under us
            log.info("client_write_failed", ip=self.ip, error=type(exc).__name__)
            self.closed.set()


@dataclass
class ConnectionRegistry:
    """Per-process bookkeeping: connection limits and the connections subscribed to each session."""

    max_connections: int
    max_per_ip: int
    total: int = 0
    per_ip: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_session: dict[str, set[ClientConnection]] = field(default_factory=lambda: defaultdict(set))

    def admit(self, ip: str) -> str | None:
        """Count a new connection in; the reason it is refused otherwise."""
        if self.total >= self.max_connections:
            return "too many connections to this server"
        if self.per_ip[ip] >= self.max_per_ip:
            return "too many connections from your address"
        self.total += 1
        self.per_ip[ip] += 1
        return None

    def release(self, conn: ClientConnection) -> None:
        self.total -= 1
        self.per_ip[conn.ip] -= 1
        if self.per_ip[conn.ip] <= 0:
            del self.per_ip[conn.ip]
        self.unsubscribe(conn)

    def subscribe(self, conn: ClientConnection, session_id: str) -> None:
        self.unsubscribe(conn)
        conn.session_id = session_id
        self.by_session[session_id].add(conn)

    def unsubscribe(self, conn: ClientConnection) -> None:
        if conn.session_id is None:
            return
        listeners = self.by_session.get(conn.session_id)
        if listeners is not None:
            listeners.discard(conn)
            if not listeners:
                del self.by_session[conn.session_id]

    def listeners(self, session_id: str) -> list[ClientConnection]:
        return [c for c in self.by_session.get(session_id, ()) if not c.closed.is_set()]

    def caller_for(self, session_id: str) -> Caller | None:
        """Who a live connection of this session authenticated as, to forward its credential."""
        for conn in self.listeners(session_id):
            if conn.caller is not None:
                return conn.caller
        return None

    def broadcast(self, session_id: str, frame: BaseModel) -> int:
        """Queue `frame` for every live connection of the session; how many took it."""
        return sum(conn.send(frame) for conn in self.listeners(session_id))
