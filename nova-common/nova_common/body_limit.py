"""A cap on request bodies, enforced while they arrive: no route ever buffers more than its limit.

A declared Content-Length above the limit is refused with 413 before a byte of the body is read. A body of
unknown length (chunked) is counted as it streams in; at the limit the client gets 413, the app sees the
client as gone, and uvicorn closes the connection instead of reading the rest. WebSocket frames are not
covered here (chat-api caps those itself).
"""

from collections.abc import Mapping

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nova_common.errors import error_response

log = structlog.get_logger("nova.body_limit")


def _describe(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"


class BodySizeLimitMiddleware:
    """`default_limit` everywhere; `route_limits` maps a path prefix to its own limit (longest prefix wins)."""

    def __init__(
        self, app: ASGIApp, *, default_limit: int, route_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.route_limits = sorted((route_limits or {}).items(), key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.route_limits:
            if path.startswith(prefix):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None:
            # The server already holds the client to its Content-Length, so no counting is needed below it.
            if declared.isdigit() and int(declared) > limit:
                await self._refuse(scope, send, limit)
                return
            await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        refused = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not response_started:
                        await self._refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused and not response_started:
                return  # the 413 went out already; whatever the app answers to the "disconnect" is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        log.info("request_body_too_large", path=scope["path"], limit=limit)
        detail = f"request body too large: this endpoint accepts at most {_describe(limit)}"
        # `Connection: close` makes uvicorn drop the connection after the answer instead of reading the rest.
        response = error_response(scope, 413, detail, "payload_too_large", headers={"Connection": "close"})

        async def no_body() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)
