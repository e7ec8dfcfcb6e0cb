"""Request-id propagation (accept the caller's `X-Request-ID`, or mint one, and echo it back) and the
client address a trusted proxy reports, for logs.

A pure ASGI middleware (not BaseHTTPMiddleware) so streaming responses and WebSockets pass through untouched.
"""

import ipaddress
import os
import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nova_common.logging import REQUEST_ID_HEADER, request_id_var

_VALID_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_HEADER = REQUEST_ID_HEADER.lower().encode()


class RequestIdMiddleware:
    """Runs on every request of every service, so it stays cheap: one pass over the headers, no dict built."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == _HEADER:
                request_id = value.decode("latin-1")
                break
        if not (request_id and _VALID_ID.match(request_id)):
            request_id = os.urandom(16).hex()  # as random as a uuid4, a third of its cost
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        echoed = (_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class ForwardedClientMiddleware:
    """Logs the client address a trusted proxy reports (`forwarded_for`), for requests from that proxy only.

    Uvicorn's own proxy-header handling would overwrite `scope["client"]` with the header's value, so a
    request through a loopback proxy would look local; here the header is only recorded, never trusted.
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] not in ("http", "websocket") or not client or not self._trusted(client[0]):
            await self.app(scope, receive, send)
            return
        chain = [
            hop.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        # The right-most hop no trusted proxy added is the client; anything left of it the client wrote.
        forwarded = next((hop for hop in reversed(chain) if not self._trusted(hop)), None)
        if forwarded is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["forwarded_for"] = forwarded[:64]
        with structlog.contextvars.bound_contextvars(forwarded_for=forwarded[:64]):
            await self.app(scope, receive, send)
