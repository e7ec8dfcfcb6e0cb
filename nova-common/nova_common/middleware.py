"""Request-id propagation: accept the caller's `X-Request-ID`, or mint one, and echo it back.

A pure ASGI middleware (not BaseHTTPMiddleware) so streaming responses and WebSockets pass through untouched.
"""

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nova_common.logging import REQUEST_ID_HEADER, request_id_var

_VALID_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_HEADER = REQUEST_ID_HEADER.lower().encode()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(_HEADER, b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
