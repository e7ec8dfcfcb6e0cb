"""One error hierarchy for every service, rendered by one handler as `{"detail": "..."}`."""

from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from nova_common.logging import REQUEST_ID_HEADER
from nova_contracts.errors import ErrorBody

log = structlog.get_logger("nova.errors")


class NovaError(Exception):
    """Base of every expected failure. Subclasses fix the status code and a stable `code` slug."""

    status_code = 500
    code = "internal_error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(NovaError):
    status_code = 400
    code = "bad_request"


class Unauthorized(NovaError):
    status_code = 401
    code = "unauthorized"


class Forbidden(NovaError):
    status_code = 403
    code = "forbidden"


class NotFound(NovaError):
    status_code = 404
    code = "not_found"


class Conflict(NovaError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(NovaError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(NovaError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class UpstreamUnavailable(NovaError):
    """A service or provider we depend on did not answer; the detail names it."""

    status_code = 503
    code = "upstream_unavailable"


class NotConfigured(NovaError):
    """A feature needs configuration the operator has not given (a secret, a provider key)."""

    status_code = 503
    code = "not_configured"


def _body(request: Request, detail: Any, code: str | None) -> dict[str, Any]:
    request_id = getattr(request.state, "request_id", None)
    return ErrorBody(detail=detail, code=code, request_id=request_id).model_dump(exclude_none=True)


def error_response(
    scope: Scope, status_code: int, detail: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error body for middleware that answers before the app runs (it has no `Request` yet)."""
    request_id = scope.get("state", {}).get("request_id")
    body = ErrorBody(detail=detail, code=code, request_id=request_id).model_dump(exclude_none=True)
    return JSONResponse(body, status_code, headers=headers)


async def _nova_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, NovaError):  # registered for NovaError; anything else is not ours to render
        raise exc
    if exc.status_code >= 500:
        log.warning("request_failed", code=exc.code, detail=exc.detail, path=request.url.path)
    return JSONResponse(_body(request, exc.detail, exc.code), exc.status_code, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    return JSONResponse(
        _body(request, exc.detail, None), exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    # Keep FastAPI's list of {loc, msg, type} so clients see which field is wrong, minus echoed input
    # (which could be a secret or a megabyte of text).
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse(_body(request, errors, "validation_error"), 422)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    # This handler runs outside the request-id middleware, so the header is added here.
    request_id = getattr(request.state, "request_id", None)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return JSONResponse(
        _body(request, "internal error; see the service log", "internal_error"), 500, headers=headers
    )


# What PostgreSQL refuses to store is the request's fault, not the server's: a value out of its column's
# range, text it cannot encode, a CHECK the input breaks. Routes should refuse such input before the
# database sees it; this is the net for what a contract missed, so the caller gets a 4xx that says so.
_STORAGE_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    # 400, not 422: a 422's documented body is the list of invalid fields, which the database cannot name.
    asyncpg.exceptions.DataError: (
        400,
        "a value cannot be stored (out of range or not encodable)",
        "unstorable_value",
    ),
    asyncpg.exceptions.CheckViolationError: (
        400,
        "a value breaks a rule of the stored data",
        "check_violation",
    ),
    asyncpg.exceptions.NotNullViolationError: (400, "a required value is missing", "missing_value"),
    asyncpg.exceptions.UniqueViolationError: (409, "that already exists", "conflict"),
    asyncpg.exceptions.ForeignKeyViolationError: (
        409,
        "it refers to something that does not exist",
        "conflict",
    ),
}


async def _storage_refusal(request: Request, exc: Exception) -> JSONResponse:
    for kind, (status_code, detail, code) in _STORAGE_REFUSALS.items():
        if isinstance(exc, kind):
            # The constraint's or type's name helps the caller; the database's full message may quote data.
            name = getattr(exc, "constraint_name", None) or getattr(exc, "data_type_name", None)
            log.warning("storage_refused", error_type=type(exc).__name__, path=request.url.path, name=name)
            return JSONResponse(_body(request, f"{detail}{f' ({name})' if name else ''}", code), status_code)
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NovaError, _nova_error)
    for kind in _STORAGE_REFUSALS:
        app.add_exception_handler(kind, _storage_refusal)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
