"""`web_fetch` behind the kit's SSRF guard (nova_common.ssrf).

The guard resolves the host once and refuses unless every address is public; the request then goes to the
vetted address with the original Host header and TLS server name, and every redirect is vetted again.
"""

import html
import re
from typing import Any

import httpx

from nova_common.ssrf import IPAddress, SsrfGuard, SsrfRefused, guarded_client
from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg

__all__ = ["IPAddress", "SsrfGuard", "SsrfRefused", "WebFetcher", "html_to_text"]

MAX_REDIRECTS = 5
USER_AGENT = "Nova/0.1 (+self-hosted agent; web_fetch)"


_SCRIPT = re.compile(r"<(script|style|noscript)[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def html_to_text(markup: str) -> str:
    text = _TAG.sub("\n", _SCRIPT.sub(" ", markup))
    text = _SPACE.sub(" ", html.unescape(text))
    return _BLANK_LINES.sub("\n\n", text).strip()


class WebFetcher:
    def __init__(self, guard: SsrfGuard, *, timeout: float, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.http = guarded_client(
            guard, timeout=timeout, max_redirects=MAX_REDIRECTS, headers={"User-Agent": USER_AGENT}
        )

    async def fetch(self, raw_url: str, max_chars: int) -> str:
        body = bytearray()
        try:
            async with self.http.stream("GET", raw_url) as response:
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) >= self.max_bytes:
                        break
        except (SsrfRefused, httpx.InvalidURL) as exc:
            raise ToolError(str(exc)) from exc
        except httpx.TooManyRedirects as exc:
            raise ToolError(f"more than {MAX_REDIRECTS} redirects") from exc
        except httpx.HTTPError as exc:
            raise ToolError(f"fetching {raw_url} failed: {type(exc).__name__}: {exc}") from exc
        text = bytes(body[: self.max_bytes]).decode(response.encoding or "utf-8", errors="replace")
        if "html" in response.headers.get("content-type", ""):
            text = html_to_text(text)
        header = f"HTTP {response.status_code} {response.url}\n\n"
        if len(text) > max_chars:
            text = text[:max_chars] + f"\n… (truncated at {max_chars} characters)"
        return header + text

    async def aclose(self) -> None:
        await self.http.aclose()


async def web_fetch(args: dict[str, Any], ctx: ToolContext) -> str:
    url = string_arg(args, "url")
    max_chars = int_arg(args, "max_chars", 20_000, low=100, high=200_000)
    return await ctx.web_fetch(url, max_chars)


WEB_TOOLS = [
    Tool(
        "web_fetch",
        "web",
        "Fetch a public web page or text resource and return its text. Internal, private and loopback "
        "addresses are refused.",
        schema({"url": {"type": "string"}, "max_chars": {"type": "integer", "minimum": 100}}, ["url"]),
        web_fetch,
    )
]
