"""Request-id propagation: accept the caller's `X-Request-ID`, or mint one, and echo it back.

A pure ASGI middleware (not BaseHTTPMiddleware) so streaming responses and WebSockets pass through untouched.
"""

import os
import re

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
