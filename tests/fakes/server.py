"""Run an ASGI app under uvicorn in a background thread, on a free loopback port."""

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from nova_common.testing import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop | None = None


@contextmanager
def serve_in_thread(app: ASGIApp, *, port: int | None = None, lifespan: str = "on") -> Iterator[LiveServer]:
    """Serve `app` until the block exits; `LiveServer.url` is its base URL (no trailing slash)."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan, access_log=False
    )
    server = uvicorn.Server(config)
    live = LiveServer(url=f"http://127.0.0.1:{port}", server=server)

    def run() -> None:
        loop = asyncio.new_event_loop()
        live.loop = loop
        loop.run_until_complete(server.serve())
        loop.close()

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), f"the server thread for port {port} ended while starting"
        return bool(server.started)

    eventually(started, timeout=30, interval=0.01, what=f"the fake server on port {port} started")
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=15)
