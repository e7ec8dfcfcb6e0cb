"""OpenAI's error shape for `/v1/*`: `{"error": {"message", "type", "code", "param"}}`.

A route class rather than an app-wide handler: the rest of the service keeps the kit's `{"detail"}` body,
and the one error hierarchy (the kit's `NovaError`) is still what the code raises.
"""

from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_gateway.openai_compat.schemas import UPSTREAM_CONTROL_FIELDS
from nova_common.errors import NovaError

log = structlog.get_logger("llm_gateway.openai")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class OpenAIErrorBody(BaseModel):
    """How every `/v1/*` error is answered, in place of the kit's `{"detail"}`."""

    error: OpenAIErrorDetail


# Declared on the `/v1` router, so the OpenAPI document shows the body clients really get (FastAPI would
# otherwise document its own 422 shape). Not 413: the kit's body cap answers before the route, as `{"detail"}`.
OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorBody} for status in (400, 401, 403, 404, 422, 429, 503)
}


def openai_error(
    status: int,
    message: str,
    code: str | None,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error_type = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": error_type, "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


def error_payload(exc: NovaError) -> dict[str, Any]:
    """The in-band form used inside an already-started SSE stream."""
    return {
        "error": {"message": exc.detail, "type": _TYPES.get(exc.status_code, "api_error"), "code": exc.code}
    }


def _unknown_parameter(exc: RequestValidationError) -> JSONResponse | None:
    """A top-level body field the endpoint does not take: 400, as OpenAI answers an unrecognized argument."""
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "extra_forbidden" and len(loc) == 2 and loc[0] == "body":
            name = str(loc[1])
            if name in UPSTREAM_CONTROL_FIELDS:
                message = (
                    f"{name}: the gateway decides which upstream a call goes to and with which credentials; "
                    "a request may not set it"
                )
            else:
                message = f"Unrecognized request argument supplied: {name}"
            return openai_error(400, message, "unsupported_parameter", param=name)
    return None


class OpenAIRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except NovaError as exc:
                if exc.status_code >= 500:
                    log.warning("request_failed", code=exc.code, detail=exc.detail, path=request.url.path)
                return openai_error(exc.status_code, exc.detail, exc.code, headers=exc.headers)
            except RequestValidationError as exc:
                unknown = _unknown_parameter(exc)
                if unknown is not None:
                    return unknown
                first = exc.errors()[0] if exc.errors() else {}
                loc = [str(p) for p in first.get("loc", ()) if p != "body"]
                param = ".".join(loc) or None
                message = (
                    f"{param}: {first.get('msg', 'invalid request')}" if param else str(first.get("msg"))
                )
                return openai_error(422, message, "validation_error", param=param)
            except StarletteHTTPException as exc:
                return openai_error(
                    exc.status_code, str(exc.detail), None, headers=getattr(exc, "headers", None)
                )

        return handle
