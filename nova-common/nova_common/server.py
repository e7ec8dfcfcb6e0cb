"""`python -m <service>`: configure logging and serve the app factory with uvicorn."""

import asyncio
import sys
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from nova_common.config import NovaSettings
from nova_common.logging import configure_logging
from nova_common.sse import close_event_streams


class CoalescingTransport:
    """A connection's transport whose writes reach the socket once per event-loop turn, joined.

    Uvicorn writes a response's status line and headers, then its body, each with its own `send()` system
    call. A system call is the dearest step of a small response here (tens of microseconds on a quiet
    machine, far more under load), so a whole small answer (or the headers and an event that is ready with
    them) now leaves in one. Nothing waits longer than the end of the current loop turn.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        # The client may have gone since the writes (uvicorn checks before each write, this runs later);
        # uvloop raises on a write to a closed connection.
        if not self.inner.is_closing():
            self.inner.write(data)

    def close(self) -> None:
        self.flush()  # a refusal closes right after its answer: the answer goes first
        self.inner.close()

    def abort(self) -> None:
        self._pending = []
        self.inner.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol over a `CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over and writes its frames itself: hand it the socket's
        # own transport, after whatever is still pending.
        if isinstance(self.transport, CoalescingTransport):
            self.transport.flush()
            self.transport = self.transport.inner
        super().handle_websocket_upgrade()


def uvicorn_options(settings: NovaSettings) -> dict[str, Any]:
    """The uvicorn options every service runs with (a service with its own uvicorn.Config starts from these)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        # Never rewrite the peer address from X-Forwarded-For: uvicorn trusts loopback peers by default, so a
        # proxy on this machine would make every caller look local. TRUSTED_PROXIES logs the forwarded
        # address instead (middleware.ForwardedClientMiddleware).
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
        "http": CoalescingHttpToolsProtocol,
    }


class NovaServer(uvicorn.Server):
    """Uvicorn's server, whose shutdown also ends the open event streams: an SSE client (a dashboard tab's
    notifications, say) would otherwise hold the shutdown for its whole grace period."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        close_event_streams()


# What `uvicorn.run` exits with when the app never started (a failing lifespan, a port in use).
STARTUP_FAILURE = 3


def serve(factory_path: str, settings: NovaSettings) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    server = NovaServer(uvicorn.Config(factory_path, factory=True, **uvicorn_options(settings)))
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
