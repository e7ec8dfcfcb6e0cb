"""One page fetch the crawler may make: through the kit's SSRF guard, paced per host, with a timeout and a
size cap, redirects returned to the crawler (so it re-checks hosts and robots.txt for the target) and
non-HTML answers refused before their body is read."""

from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from nova_common.pacing import PerHostPacer
from nova_common.ssrf import SsrfGuard, SsrfRefused, guarded_client


class Skip(Exception):
    """The URL is not crawled; `reason` is the counter it goes to (robots, off_host, refused, …)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    body: bytes
    redirect_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class PageFetcher:
    def __init__(
        self, guard: SsrfGuard, *, timeout: float, max_bytes: int, pacer: PerHostPacer, user_agent: str
    ) -> None:
        self.max_bytes = max_bytes
        self.pacer = pacer
        self.http = guarded_client(guard, timeout=timeout, headers={"User-Agent": user_agent})

    async def get(self, url: str, *, html_only: bool = True, headers: dict[str, str] | None = None) -> Page:
        await self.pacer.wait_for_url(url)
        try:
            async with self.http.stream("GET", url, headers=headers, follow_redirects=False) as response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    return Page(url, response.status_code, b"", urljoin(url, location) if location else None)
                if response.status_code >= 400:
                    return Page(url, response.status_code, b"", headers=dict(response.headers))
                kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if html_only and kind not in ("text/html", "application/xhtml+xml"):
                    raise Skip("not_html", f"{url} is {kind or 'untyped'}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise Skip("too_large", f"{url} is {declared} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise Skip("too_large", f"{url} is over {self.max_bytes} bytes")
                    chunks.append(chunk)
                return Page(url, response.status_code, b"".join(chunks), headers=dict(response.headers))
        except SsrfRefused as exc:
            raise Skip("refused", str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise Skip("timeout", f"{url} timed out") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise Skip("fetch_error", f"{url}: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        await self.http.aclose()
