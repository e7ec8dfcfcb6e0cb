"""`POST /v1/chat/completions` served without FastAPI's router: the gateway's hottest route, on a budget.

FastAPI's routing, request wrapping and dependency solving cost about 0.2 ms a request on a 2-core machine,
as much as the rest of the hop (bench/gateway_overhead.py). This ASGI layer sits inside the kit's middleware
(request id, Host check, body cap, CORS still apply) and in front of the router; it parses and validates the
body exactly as FastAPI would (`json.loads`, then the same pydantic model in Python mode), then calls the
route's own function, so auth, limits and answers are the route's. Anything else goes to the FastAPI route,
which also stays the route's documentation: a body that does not validate, or a content type FastAPI would
treat otherwise, is replayed to it, so malformed input gets exactly the errors it always got.
"""

import json
from typing import Any

import structlog
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_gateway.api.openai import create_chat_completion
from llm_gateway.api.openai_errors import openai_error
from llm_gateway.openai_compat.schemas import OpenAIChatCompletionRequest
from nova_common.errors import NovaError

log = structlog.get_logger("llm_gateway.openai")

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"


class ChatCompletionFastPath:
    """Pure ASGI middleware: serves valid `POST /v1/chat/completions` itself, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != CHAT_COMPLETIONS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away (or the body cap refused it and answered already)
        parsed = _parse(scope, body)
        if parsed is None:
            await self.app(scope, _replay(body, receive), send)
            return
        request = Request(scope, receive)
        try:
            response = await create_chat_completion(parsed, request)
        except NovaError as exc:
            # What the route's OpenAIRoute answers for the same error.
            if exc.status_code >= 500:
                log.warning("request_failed", code=exc.code, detail=exc.detail, path=CHAT_COMPLETIONS_PATH)
            response = openai_error(exc.status_code, exc.detail, exc.code, headers=exc.headers)
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


def _parse(scope: Scope, body: bytes) -> OpenAIChatCompletionRequest | None:
    """The validated body, or None when the FastAPI route must judge it (it answers the same error)."""
    content_type = next((value for name, value in scope["headers"] if name == b"content-type"), None)
    # FastAPI reads a body as JSON without a content type or with a JSON one; any other goes its own way.
    if content_type is not None and not content_type.lower().startswith(b"application/json"):
        return None
    try:
        data: Any = json.loads(body)
        return OpenAIChatCompletionRequest.model_validate(data)
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
