"""The client services use to call each other: timeouts, request-id propagation, retries on connect errors only.

Only connection failures are retried: the request never reached the peer, so repeating it cannot
duplicate work. A timeout or a 5xx after the peer received the request is returned to the caller.
"""

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpcore
import httpx
import structlog

from nova_common.auth import SERVICE_HEADER
from nova_common.errors import NovaError, RateLimited, Unauthorized, UpstreamUnavailable
from nova_common.logging import REQUEST_ID_HEADER, request_id_var
from nova_common.plain_http import (
    ConnectFailed,
    PlainHttpClient,
    PlainResponse,
    Redirected,
    plain_origin,
    request_head,
)

log = structlog.get_logger("nova.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
T = TypeVar("T")


def body_detail(status: int, body: bytes, limit: int = 300) -> str:
    """The `detail` a Nova service put in an error body, or the start of whatever else came back."""
    reason = httpx.codes.get_reason_phrase(status)
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")[:limit] or reason
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    return str(detail)[:limit] if detail else reason


def response_detail(response: httpx.Response, limit: int = 300) -> str:
    """The `detail` a Nova service put in its error body, or the start of whatever else came back."""
    return body_detail(response.status_code, response.content, limit)


# Statuses a proxy or a starting service answers with before doing any work.
NOT_STARTED_STATUSES = frozenset({502, 503, 504})


def peer_error(peer: str, response: httpx.Response) -> NovaError:
    """The error to raise for a peer's non-2xx answer, keeping its status meaning and its `detail`."""
    status, detail = response.status_code, response_detail(response)
    if status in NOT_STARTED_STATUSES:
        return UpstreamUnavailable(f"{peer} answered {status}: {detail}")
    if status in (401, 403):
        return Unauthorized(f"{peer} refused our credentials: {detail}")
    if status == 429:
        retry_after = response.headers.get("Retry-After", "")
        return RateLimited(
            f"rate limited by {peer}: {detail}", retry_after=int(retry_after) if retry_after.isdigit() else 5
        )
    error = NovaError(f"{peer} answered {status}: {detail}")
    error.status_code = status
    return error


async def _add_request_id(request: httpx.Request) -> None:
    request_id = request_id_var.get()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


# A request body larger than this is sent as it is written, not held for the response's first read.
_JOIN_LIMIT_BYTES = 64 * 1024


class _JoinedWritesStream(httpcore.AsyncNetworkStream):
    """Holds what is written until the next read, so a request's head and body leave in one send().

    httpcore writes them separately: two system calls per request, on every service-to-service hop, where a
    system call costs tens of microseconds on a quiet machine and far more under load. Every request is
    followed by a read of its answer, which sends what is held first.
    """

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._write_timeout: float | None = None

    # The signatures below are httpcore's network interface, timeouts included (hence the noqa).
    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        self._held.append(buffer)
        self._held_bytes += len(buffer)
        self._write_timeout = timeout
        if self._held_bytes > _JOIN_LIMIT_BYTES:
            await self._send_held()

    async def _send_held(self) -> None:
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held, self._held_bytes = [], 0
            await self._stream.write(data, self._write_timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        try:
            await self._send_held()
        except httpcore.WriteError:
            # As httpcore does when a body write fails: a server may have answered early (413) and closed;
            # its answer, if any, is read next.
            pass
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._held, self._held_bytes = [], 0
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        await self._send_held()
        return _JoinedWritesStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _JoinedWritesBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _JoinedWritesStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _JoinedWritesStream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def joined_writes_transport() -> httpx.AsyncHTTPTransport:
    """httpx's own transport, whose connections send a request's head and body together."""
    transport = httpx.AsyncHTTPTransport()
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    # httpx and httpcore are pinned by the lock; should a release move these, requests are simply not joined.
    if isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _JoinedWritesBackend(backend)  # type: ignore[union-attr]
    return transport


class StreamedAnswer:
    """A streamed answer, whichever client carries it: its status, then its body whole or line by line."""

    def __init__(self, status: int, read: Callable[[], Awaitable[bytes]], lines: AsyncIterator[str]) -> None:
        self.status = status
        self.read = read
        self._lines = lines

    def lines(self) -> AsyncIterator[str]:
        """The body's lines without their line endings (as httpx's `aiter_lines`)."""
        return self._lines


async def _plain_lines(response: PlainResponse) -> AsyncIterator[str]:
    async for line in response.lines():
        yield line.decode("utf-8", errors="replace").rstrip("\r\n")


class ServiceClient:
    """An httpx client bound to one peer service; streamed calls to a plain-http peer go through the kit's lean
    client (`plain_http`), a fraction of httpx's CPU on the hops every chat turn takes."""

    def __init__(
        self,
        peer: str,
        base_url: str,
        *,
        service_token: str = "",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        connect_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.peer = peer
        self.connect_retries = connect_retries
        headers = {SERVICE_HEADER: service_token} if service_token else {}
        self.connect_timeout = timeout.connect if timeout.connect is not None else 3.0
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers=headers,
            transport=transport or joined_writes_transport(),
            event_hooks={"request": [_add_request_id]},
        )
        self._headers = headers
        # A test's in-process transport (or an https peer) keeps every call on httpx.
        self._origin = plain_origin(base_url.rstrip("/")) if transport is None else None
        self._plain = PlainHttpClient() if self._origin is not None else None

    async def _connect_retrying(
        self, attempt: Callable[[], Awaitable[T]], retry_on: tuple[type[BaseException], ...]
    ) -> T:
        """`attempt()`, tried again (with a growing pause) while no connection could be made."""
        delay = 0.2
        for number in range(self.connect_retries + 1):
            try:
                return await attempt()
            except retry_on as exc:
                if number == self.connect_retries:
                    raise UpstreamUnavailable(f"{self.peer} is unreachable ({type(exc).__name__})") from exc
                log.info("peer_connect_retry", peer=self.peer, attempt=number + 1)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self._connect_retrying(
            lambda: self.http.request(method, url, **kwargs), (httpx.ConnectError, httpx.ConnectTimeout)
        )

    @asynccontextmanager
    async def post_stream(
        self, url: str, content: bytes, *, headers: dict[str, str], read_timeout: float
    ) -> AsyncIterator[StreamedAnswer]:
        """POST `content` and read the answer as it arrives. `read_timeout` bounds each wait for the answer (its
        start included), not its total. A peer that cannot be reached, goes silent or breaks the connection
        raises `UpstreamUnavailable`, whether before the answer or while it is read."""
        try:
            plain = await self._plain_post(url, content, headers, read_timeout)
            if plain is not None:
                try:
                    yield StreamedAnswer(plain.status, plain.read, _plain_lines(plain))
                except BaseException:
                    plain.close()
                    raise
                if plain.complete:
                    plain.release()  # read to its end: the connection carries the next call
                else:
                    plain.close()  # left early: closing the connection tells the peer to stop
                return
            async with self.http.stream(
                "POST",
                url,
                content=content,
                headers=headers,
                timeout=httpx.Timeout(read_timeout, connect=self.connect_timeout),
            ) as response:
                yield StreamedAnswer(response.status_code, response.aread, response.aiter_lines())
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise UpstreamUnavailable(f"{self.peer} did not answer within {read_timeout:.0f}s") from exc
        except (OSError, httpx.HTTPError) as exc:
            raise UpstreamUnavailable(f"{self.peer} is unreachable ({type(exc).__name__})") from exc

    async def _plain_post(
        self, url: str, content: bytes, headers: dict[str, str], read_timeout: float
    ) -> PlainResponse | None:
        """The request sent by the lean client, its status and headers in; None when it is httpx's."""
        if self._origin is None or self._plain is None:
            return None
        request_id = request_id_var.get()
        extra = {REQUEST_ID_HEADER: request_id} if request_id else {}
        head = request_head(self._origin, url, {**self._headers, **extra, **headers}, len(content))
        if head is None:
            return None
        origin, plain = self._origin, self._plain
        try:
            return await self._connect_retrying(
                lambda: plain.post(
                    origin, head, content, connect_timeout=self.connect_timeout, read_timeout=read_timeout
                ),
                (ConnectFailed,),
            )
        except Redirected:
            return None

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def aclose(self) -> None:
        if self._plain is not None:
            await self._plain.aclose()
        await self.http.aclose()
