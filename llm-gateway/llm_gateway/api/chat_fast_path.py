"""The gateway's chat routes served by the kit's `FastPath`, ahead of FastAPI's router:
`POST /v1/chat/completions`, `/complete` and `/stream`.

FastAPI's routing, request wrapping and dependency solving cost about 0.2 ms a request on a 2-core machine,
as much as the rest of the hop (bench/gateway_overhead.py). `nova_common.fast_path` parses and validates the
body as FastAPI would and calls the route's own function here with the dependencies it declares, so auth,
limits and answers are the route's; errors are rendered as the route renders them (OpenAI's shape under `/v1`,
the kit's `{"detail"}` elsewhere), and input it does not take is replayed to the FastAPI route, which also
stays the route's documentation.
"""

from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from llm_gateway.api.internal import complete_chat, stream_chat
from llm_gateway.api.openai import create_chat_completion
from llm_gateway.api.openai_errors import openai_error
from llm_gateway.deps import services_of
from llm_gateway.openai_compat.schemas import OpenAIChatCompletionRequest
from nova_common.auth import require_service
from nova_common.errors import NovaError
from nova_common.fast_path import FastRoute
from nova_contracts.llm import CompleteRequest


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
    # What OpenAIRoute renders for the kit's errors under /v1.
    return openai_error(exc.status_code, exc.detail, exc.code, headers=exc.headers)


CHAT_ROUTES: dict[str, FastRoute] = {
    "/v1/chat/completions": FastRoute(OpenAIChatCompletionRequest, _chat_completion, _openai_error),
    "/complete": FastRoute(CompleteRequest, _complete),
    "/stream": FastRoute(CompleteRequest, _stream),
}
