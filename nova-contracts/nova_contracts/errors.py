"""The error body every Nova service returns: raw JSON `{"detail": ...}`, never wrapped."""

from typing import Any

from nova_contracts.base import ResponseModel


class ErrorBody(ResponseModel):
    """`detail` is a sentence for a human; `code` is a stable machine-readable slug."""

    detail: str | list[dict[str, Any]]
    code: str | None = None
    request_id: str | None = None
