"""The chat routes served without FastAPI's router: `POST /v1/chat/completions`, `/complete` and `/stream`.

FastAPI's routing, request wrapping and dependency solving cost about 0.2 ms a request on a 2-core machine,
as much as the rest of the hop (bench/gateway_overhead.py). This ASGI layer sits inside the kit's middleware
(request id, Host check, body cap, CORS still apply) and in front of the router; it parses and validates the
body as FastAPI would (into the same Python values as `json.loads`, then the same pydantic model in Python
mode), then calls the
route's own function with the dependencies it declares, so auth, limits and answers are the route's, and
renders errors as the route would (OpenAI's shape under `/v1`, the kit's `{"detail"}` elsewhere). Anything else goes to the FastAPI route,
which also stays the route's documentation: a body that does not validate, or a content type FastAPI would
treat otherwise, is replayed to it, so malformed input gets exactly the errors it always got.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.api.internal import complete_chat, stream_chat
from llm_gateway.api.openai import create_chat_completion
from llm_gateway.api.openai_errors import openai_error
from llm_gateway.deps import services_of
from llm_gateway.openai_compat.schemas import OpenAIChatCompletionRequest
from llm_gateway.providers.transports import parse_json
from nova_common.auth import require_service
from nova_common.errors import NovaError, error_response
from nova_contracts.llm import CompleteRequest

log = structlog.get_logger("llm_gateway.fast_path")


async def _chat_completion(body: Any, request: Request) -> Response:
    return await create_chat_completion(body, request)


async def _complete(body: Any, request: Request) -> Response:
    caller = await require_service(request, None)
    result = await complete_chat(body, request, services_of(request), caller)
    # What FastAPI does with the route's response_model: the model in JSON mode, by alias.
    return JSONResponse(result.model_dump(mode="json", by_alias=True))


async def _stream(body: Any, request: Request) -> Response:
    caller = await require_service(request, None)
    return await stream_chat(body, request, services_of(request), caller)


def _openai_error(scope: Scope, exc: NovaError) -> Response:
    return openai_error(exc.status_code, exc.detail, exc.code, headers=exc.headers)


def _kit_error(scope: Scope, exc: NovaError) -> Response:
    return error_response(scope, exc.status_code, exc.detail, exc.code, headers=exc.headers)


@dataclass(frozen=True)
class FastRoute:
    body: type[BaseModel]
    handle: Callable[[Any, Request], Awaitable[Response]]
    # How the FastAPI route renders the kit's errors (OpenAIRoute under /v1, the kit's handler elsewhere).
    render_error: Callable[[Scope, NovaError], Response]


FAST_ROUTES: dict[str, FastRoute] = {
    "/v1/chat/completions": FastRoute(OpenAIChatCompletionRequest, _chat_completion, _openai_error),
    "/complete": FastRoute(CompleteRequest, _complete, _kit_error),
    "/stream": FastRoute(CompleteRequest, _stream, _kit_error),
}


class ChatCompletionFastPath:
    """Pure ASGI middleware: serves valid POSTs to FAST_ROUTES itself, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = FAST_ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
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
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), None)
    # FastAPI reads a body as JSON without a content type or with a JSON one; any other goes its own way.
    if content_type is not None and not content_type.lower().startswith(b"application/json"):
        return None
    try:
        data: Any = parse_json(body)
        return model.model_validate(data)
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
