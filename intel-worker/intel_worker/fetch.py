"""Fetching a feed politely and safely: every request through the kit's SSRF guard, conditional when the
feed gave validators, paced per host, with a timeout and a size cap."""

from dataclasses import dataclass

import httpx

from nova_common.pacing import PerHostPacer
from nova_common.ssrf import SsrfGuard, SsrfRefused, guarded_client


class FetchFailed(Exception):
    """The feed could not be fetched; the message is what the feed's status shows."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 when the validators still hold
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None


class FeedFetcher:
    def __init__(
        self, guard: SsrfGuard, *, timeout: float, max_bytes: int, pacer: PerHostPacer, user_agent: str
    ) -> None:
        self.max_bytes = max_bytes
        self.pacer = pacer
        self.http = guarded_client(guard, timeout=timeout, headers={"User-Agent": user_agent})

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        await self.pacer.wait_for_url(url)
        try:
            async with self.http.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(304, b"", "", etag, last_modified)
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code} from {response.url.host}")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchFailed(f"response of {declared} bytes is over the {self.max_bytes}-byte cap")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchFailed(f"response is over the {self.max_bytes}-byte cap")
                    chunks.append(chunk)
                return Fetched(
                    200,
                    b"".join(chunks),
                    response.headers.get("Content-Type", ""),
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
        except SsrfRefused as exc:
            raise FetchFailed(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise FetchFailed(f"timed out ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchFailed(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self.http.aclose()
