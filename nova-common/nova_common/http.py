"""The client services use to call each other: timeouts, request-id propagation, retries on connect errors only.

Only connection failures are retried: the request never reached the peer, so repeating it cannot
duplicate work. A timeout or a 5xx after the peer received the request is returned to the caller.
"""

import asyncio
from typing import Any

import httpx
import structlog

from nova_common.auth import SERVICE_HEADER
from nova_common.errors import NovaError, RateLimited, Unauthorized, UpstreamUnavailable
from nova_common.logging import REQUEST_ID_HEADER, request_id_var

log = structlog.get_logger("nova.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=3.0)


def response_detail(response: httpx.Response, limit: int = 300) -> str:
    """The `detail` a Nova service put in its error body, or the start of whatever else came back."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:limit] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail)[:limit] if detail else response.reason_phrase


# Statuses a proxy or a starting service answers with before doing any work.
NOT_STARTED_STATUSES = frozenset({502, 503, 504})


def peer_error(peer: str, response: httpx.Response) -> NovaError:
    """The error to raise for a peer's non-2xx answer, keeping its status meaning and its `detail`."""
    status, detail = response.status_code, response_detail(response)
    if status in NOT_STARTED_STATUSES:
        return UpstreamUnavailable(f"{peer} answered {status}: {detail}")
    if status in (401, 403):
        return Unauthorized(f"{peer} refused our credentials: {detail}")
    if status == 429:
        retry_after = response.headers.get("Retry-After", "")
        return RateLimited(
            f"rate limited by {peer}: {detail}", retry_after=int(retry_after) if retry_after.isdigit() else 5
        )
    error = NovaError(f"{peer} answered {status}: {detail}")
    error.status_code = status
    return error


async def _add_request_id(request: httpx.Request) -> None:
    request_id = request_id_var.get()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


class ServiceClient:
    """An httpx client bound to one peer service."""

    def __init__(
        self,
        peer: str,
        base_url: str,
        *,
        service_token: str = "",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        connect_retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.peer = peer
        self.connect_retries = connect_retries
        headers = {SERVICE_HEADER: service_token} if service_token else {}
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers=headers,
            transport=transport,
            event_hooks={"request": [_add_request_id]},
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        delay = 0.2
        for attempt in range(self.connect_retries + 1):
            try:
                return await self.http.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt == self.connect_retries:
                    raise UpstreamUnavailable(f"{self.peer} is unreachable ({type(exc).__name__})") from exc
                log.info("peer_connect_retry", peer=self.peer, attempt=attempt + 1)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def aclose(self) -> None:
        await self.http.aclose()
