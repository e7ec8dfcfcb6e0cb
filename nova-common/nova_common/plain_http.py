"""A lean HTTP/1.1 client for plain-`http://` peers: local model servers, loopback proxies, Nova's own services.

httpx spends several hundred microseconds of CPU per request on a 2-core machine, aiohttp about 110 µs
(request and response objects, header multidicts, timers, stream readers); on a hop that every chat turn or
model call takes, that is most of what the hop adds (bench/gateway_overhead.py, bench/chat_overhead.py). This
client does one thing: POST a body on a kept-alive connection and read the answer with httptools, the parser
uvicorn already runs in every Nova service. TLS peers stay with the general clients: there the handshake and
the network dwarf their cost. Anything unusual (credentials in the URL, a header with a line break, an answer
that redirects) is left to them as well: `plain_origin`/`request_head` return None, `post` raises
`Redirected`.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

REDIRECTS = frozenset({301, 302, 303, 307, 308})


class PlainHttpError(ConnectionError):
    """The peer closed the connection early or answered with something that is not HTTP."""


class ConnectFailed(PlainHttpError):
    """No connection could be made: the request never left, so sending it again cannot repeat any work."""


class ConnectTimedOut(ConnectFailed, TimeoutError):
    """The connection was not made in time (a TimeoutError too)."""


class Redirected(Exception):
    """The peer answered with a redirect: the request is for a general client, which follows it."""


@dataclass(frozen=True)
class PlainOrigin:
    """Where a plain-http base URL points, parsed once."""

    host: str
    port: int
    host_header: bytes
    path_prefix: bytes


def plain_origin(base_url: str) -> PlainOrigin | None:
    """The origin of an `http://` base URL, or None when it is for a general client (https, credentials, odd)."""
    try:
        parts = urlsplit(base_url)
        port = parts.port or 80
    except ValueError:
        return None
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password or parts.query:
        return None
    try:
        return PlainOrigin(parts.hostname, port, parts.netloc.encode("ascii"), parts.path.encode("ascii"))
    except UnicodeEncodeError:
        return None


def request_head(origin: PlainOrigin, path: str, headers: dict[str, str], length: int) -> bytes | None:
    """The request line and headers, or None when a header cannot be sent as-is (a general client refuses it)."""
    lines = [
        b"POST " + origin.path_prefix + path.encode("ascii") + b" HTTP/1.1",
        b"Host: " + origin.host_header,
    ]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            return None
        lines.append(name.encode() + b": " + value.encode())
    lines.append(b"Content-Length: %d" % length)
    return b"\r\n".join(lines) + b"\r\n\r\n"


class PlainResponse:
    """One answer as it arrives: status and headers first, then the body in pieces."""

    def __init__(self, connection: "_Connection", read_timeout: float) -> None:
        self._connection = connection
        self._loop = connection.loop
        self.status = 0
        self.headers: dict[str, str] = {}
        self.head_received = False
        self.complete = False
        self.keep_alive = False
        self.bytes_received = 0
        self._pieces: deque[bytes] = deque()
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._read_timeout = read_timeout
        self._last_activity = self._loop.time()
        # One timer for the whole answer, re-armed only when it fires: cheaper than one per piece read.
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(read_timeout, self._check_idle)

    # ── fed by the connection ──

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_arrived(self, size: int) -> None:
        self.bytes_received += size
        self._last_activity = self._loop.time()

    def header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def head(self, status: int) -> None:
        self.status = status
        self.head_received = True
        self._wake()

    def piece(self, data: bytes) -> None:
        self._pieces.append(data)
        self._wake()

    def finish(self, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
        self._stop_timer()
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self.complete or self._error is not None:
            return
        self._error = error
        self._stop_timer()
        self._wake()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_idle(self) -> None:
        idle = self._loop.time() - self._last_activity
        if idle >= self._read_timeout:
            self._timer = None
            self.fail(TimeoutError())
            self._connection.close()
        else:
            self._timer = self._loop.call_later(self._read_timeout - idle, self._check_idle)

    # ── read by the caller ──

    async def _next_event(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    async def wait_head(self) -> None:
        while not self.head_received:
            await self._next_event()

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked transfer encoding already removed)."""
        while True:
            while self._pieces:
                yield self._pieces.popleft()
            if self.complete:
                return
            await self._next_event()

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.pieces()])

    async def lines(self) -> AsyncIterator[bytes]:
        """The body line by line, each with its newline (the last one may have none), as aiohttp yields them."""
        pending = b""
        async for piece in self.pieces():
            pending += piece
            if b"\n" not in pending:
                continue
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line + b"\n"
        if pending:
            yield pending

    def release(self) -> None:
        """Done with the answer: the connection goes back to the pool if it can carry another request."""
        self._stop_timer()
        self._connection.done(reusable=self.complete and self.keep_alive and self._error is None)

    def close(self) -> None:
        """Stop here: closing the connection is what tells the peer to stop generating."""
        self._stop_timer()
        self._connection.done(reusable=False)


class _Connection(asyncio.Protocol):
    def __init__(self, client: "PlainHttpClient", key: tuple[str, int]) -> None:
        self.client = client
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reused = False
        self.response: PlainResponse | None = None
        self._delimited = False  # the answer's length is known (Content-Length or chunked), not "until close"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, read_timeout: float) -> PlainResponse:
        self.parser = httptools.HttpResponseParser(self)
        self._delimited = False
        self.response = PlainResponse(self, read_timeout)
        assert self.transport is not None
        self.transport.write(data)
        return self.response

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # nothing was asked: a connection that talks out of turn is not reused
            self.close()
            return
        response.data_arrived(len(data))
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response.fail(PlainHttpError(f"invalid HTTP answer ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.forget(self)
        response = self.response
        if response is not None and not response.complete:
            if exc is None and response.head_received and not self._delimited:
                response.finish(keep_alive=False)  # an answer delimited by the end of the connection
            else:
                response.fail(PlainHttpError("the peer closed the connection"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def done(self, *, reusable: bool) -> None:
        self.response = None
        if reusable and not self.closed and self.transport is not None and not self.transport.is_closing():
            self.client.idle(self)
        else:
            self.close()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is not None:
            self.response.header(name, value)

    def on_headers_complete(self) -> None:
        if self.response is None:
            return
        headers = self.response.headers
        self._delimited = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "")
        self.response.head(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response.piece(body)

    def on_message_complete(self) -> None:
        if self.response is not None:
            self.response.finish(self.parser.should_keep_alive())


class PlainHttpClient:
    """Kept-alive connections per origin; a request on one the peer closed while idle is sent again once."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._origins: dict[str, PlainOrigin | None] = {}

    def origin(self, base_url: str) -> PlainOrigin | None:
        if base_url not in self._origins:
            self._origins[base_url] = plain_origin(base_url)
        return self._origins[base_url]

    def idle(self, connection: _Connection) -> None:
        self._idle.setdefault(connection.key, []).append(connection)

    def idle_count(self, origin: PlainOrigin) -> int:
        """How many kept-alive connections to `origin` wait for a request."""
        return len(self._idle.get((origin.host, origin.port), ()))

    def forget(self, connection: _Connection) -> None:
        """A connection that closed while idle leaves the pool (the peer's keep-alive timeout ran out)."""
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)

    def _idle_connection(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if (
                not connection.closed
                and connection.transport is not None
                and not connection.transport.is_closing()
            ):
                connection.reused = True
                return connection
        return None

    async def _connect(self, origin: PlainOrigin, connect_timeout: float) -> _Connection:
        key = (origin.host, origin.port)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self, key), origin.host, origin.port
                )
        except TimeoutError as exc:
            raise ConnectTimedOut(
                f"no connection to {origin.host}:{origin.port} within {connect_timeout}s"
            ) from exc
        except OSError as exc:
            raise ConnectFailed(f"no connection to {origin.host}:{origin.port} ({exc})") from exc
        return connection

    async def post(
        self,
        origin: PlainOrigin,
        head: bytes,
        body: bytes,
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> PlainResponse:
        """Send the request; return once the status and headers are in (the body follows through the response).

        Raises `Redirected`, `ConnectFailed` (the request never left), TimeoutError, or another OSError."""
        connection = self._idle_connection((origin.host, origin.port))
        while True:
            if connection is None:
                connection = await self._connect(origin, connect_timeout)
            response = connection.send(head + body, read_timeout)
            try:
                await response.wait_head()
            except PlainHttpError:
                response.close()
                # A kept-alive connection the peer closed while it sat idle: the request never reached
                # it (not one byte came back), so it is sent again, once, on a new connection.
                if connection.reused and response.bytes_received == 0:
                    connection = None
                    continue
                raise
            except BaseException:
                response.close()
                raise
            if response.status in REDIRECTS:
                response.close()
                raise Redirected
            return response

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
