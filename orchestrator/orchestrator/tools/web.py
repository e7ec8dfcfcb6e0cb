"""`web_fetch` behind an SSRF guard.

The guard resolves the host itself and refuses unless *every* address is public (no loopback, private,
link-local — which covers cloud metadata at 169.254.169.254 — CGNAT, multicast or reserved ranges). The
request then goes to the vetted IP with the original Host header and TLS server name, so a DNS answer that
changes between check and connect (rebinding) cannot redirect it. Redirects are followed by hand, each hop
checked again.
"""

import asyncio
import html
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx

from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
MAX_REDIRECTS = 5
USER_AGENT = "Nova/0.1 (+self-hosted agent; web_fetch)"


class SsrfRefused(ToolError):
    """The URL (or a redirect) points somewhere agents may not reach."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class SsrfGuard:
    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        allowed_networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    ) -> None:
        self.resolver = resolver
        # An operator's explicit exceptions (a LAN wiki, say); empty by default.
        self.allowed_networks = tuple(allowed_networks)

    def address_allowed(self, ip: IPAddress) -> bool:
        if any(ip in network for network in self.allowed_networks):
            return True
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_global and not ip.is_multicast

    async def vet(self, url: httpx.URL) -> IPAddress:
        """The address to connect to for `url`, or `SsrfRefused`."""
        if url.scheme not in ("http", "https"):
            raise SsrfRefused(f"refused: only http and https URLs can be fetched, not {url.scheme or 'none'}")
        host = url.host
        if not host:
            raise SsrfRefused("refused: the URL has no host")
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                addresses = await self.resolver(host, url.port or (443 if url.scheme == "https" else 80))
            except (OSError, UnicodeError) as exc:
                raise SsrfRefused(f"refused: {host} does not resolve ({exc})") from exc
        if not addresses:
            raise SsrfRefused(f"refused: {host} does not resolve")
        for ip in addresses:
            if not self.address_allowed(ip):
                raise SsrfRefused(
                    f"refused: {host} resolves to {ip}, a private, loopback or reserved address"
                )
        return addresses[0]


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
        self.guard = guard
        self.max_bytes = max_bytes
        self.http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def fetch(self, raw_url: str, max_chars: int) -> str:
        url = httpx.URL(raw_url)
        for _ in range(MAX_REDIRECTS + 1):
            ip = await self.guard.vet(url)
            headers = {"Host": url.netloc.decode("ascii"), "User-Agent": USER_AGENT}
            extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
            request = self.http.build_request(
                "GET", url.copy_with(host=str(ip)), headers=headers, extensions=extensions
            )
            try:
                response = await self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise ToolError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from exc
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    url = url.join(location)
                    continue
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) >= self.max_bytes:
                        break
            finally:
                await response.aclose()
            text = bytes(body[: self.max_bytes]).decode(response.encoding or "utf-8", errors="replace")
            if "html" in response.headers.get("content-type", ""):
                text = html_to_text(text)
            header = f"HTTP {response.status_code} {url}\n\n"
            if len(text) > max_chars:
                text = text[:max_chars] + f"\n… (truncated at {max_chars} characters)"
            return header + text
        raise ToolError(f"more than {MAX_REDIRECTS} redirects")

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
