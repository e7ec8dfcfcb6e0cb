"""Hot routes served without FastAPI's router: `FastPath`, a pure ASGI layer in front of it.

FastAPI's routing, request wrapping and dependency solving cost about 0.2-0.3 ms a request on a 2-core
machine; on a route that every chat turn or model call takes, that is a large share of what the service adds.
A service lists such routes (`FastRoute`) and installs `FastPath` innermost of its middleware
(`install_fast_path`), so the kit's request id, Host check, body cap and CORS still see every request.

For a listed route the layer parses and validates the body exactly as FastAPI would (the same JSON, then the
same pydantic model in Python mode) and calls the route's own function with the dependencies it declares, so
auth, limits and answers are the route's. Anything it is not sure of goes to the FastAPI route, which also
stays the route's documentation: a body that does not validate, a content type FastAPI would treat otherwise,
or a request the route's `accepts` check turns down (a header FastAPI validates, say) is replayed to it, so
malformed input gets exactly the errors it always got.
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nova_common.errors import NovaError, error_response
from nova_common.json_codec import parse_json
from nova_contracts.base import JSON_WITHOUT_NUL

log = structlog.get_logger("nova_common.fast_path")


def kit_error(scope: Scope, exc: NovaError) -> Response:
    """The kit's `{"detail": …}` answer, as its exception handler renders it."""
    return error_response(scope, exc.status_code, exc.detail, exc.code, headers=exc.headers)


def _always(scope: Scope) -> bool:
    return True


@dataclass(frozen=True)
class FastRoute:
    """A POST route served by `FastPath`: its body model, and the function that answers a valid one."""

    body: type[BaseModel]
    handle: Callable[[Any, Request], Awaitable[Response]]
    # How the FastAPI route renders the kit's errors (the kit's handler, or a route class's own shape).
    render_error: Callable[[Scope, NovaError], Response] = kit_error
    # False hands the request to the FastAPI route (a header it validates is malformed, say).
    accepts: Callable[[Scope], bool] = _always


class FastPath:
    """Pure ASGI middleware: serves valid POSTs to its routes itself, passes everything else on."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, FastRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST" or not route.accepts(scope):
            await self.app(scope, receive, send)
            return
        # When the request reached its route (`request.state.received_at`, a perf_counter reading): a route
        # that reports where its time goes counts from here.
        scope.setdefault("state", {})["received_at"] = time.perf_counter()
        body = await _read_body(receive)
        if body is None:
            return  # the client went away (or the body cap refused it and answered already)
        parsed = _parse(scope, body, route.body)
        if parsed is None:
            await self.app(scope, _replay(body, receive), send)
            return
        request = Request(scope, receive)
        try:
            response = await route.handle(parsed, request)
        except NovaError as exc:
            if exc.status_code >= 500:
                log.warning("request_failed", code=exc.code, detail=exc.detail, path=scope["path"])
            response = route.render_error(scope, exc)
        await response(scope, receive, send)


def install_fast_path(app: FastAPI, routes: Mapping[str, FastRoute]) -> None:
    """Innermost of the middleware (appended, where add_middleware would put it outermost): the kit's request
    id, Host check, body cap and CORS see these requests first."""
    app.user_middleware.append(Middleware(FastPath, routes=routes))


def header(scope: Scope, name: bytes) -> bytes | None:
    """A request header's raw value (`name` in lower case), or None."""
    return next((value for key, value in scope["headers"] if key == name), None)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(scope: Scope, body: bytes, model: type[BaseModel]) -> BaseModel | None:
    """The validated body, or None when the FastAPI route must judge it (it answers the same error)."""
    content_type = header(scope, b"content-type")
    # FastAPI reads a body as JSON without a content type or with a JSON one; any other goes its own way.
    if content_type is not None and not content_type.lower().startswith(b"application/json"):
        return None
    try:
        data: Any = parse_json(body)
        # JSON carries a NUL only as `\u0000`: a body without that sequence spares the contracts' NUL check its
        # walk through every string (a model call's tool schemas).
        context = None if b"\\u0000" in body else {JSON_WITHOUT_NUL: True}
        return model.model_validate(data, context=context)
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
