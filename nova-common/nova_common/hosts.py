"""Who a request is addressed to and where it comes from: the Host allow-list and the "direct local caller" test.

A browser page on `http://evil.example` whose name the attacker re-points at 127.0.0.1 (DNS rebinding) reaches
a local service with `Host: evil.example`; refusing Host names the operator did not allow stops it. The same
parsing decides whether a caller is a local user on this machine (REQUIRE_AUTH=false honours only those).
"""

import ipaddress
from collections.abc import Iterable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from nova_common.errors import error_response

log = structlog.get_logger("nova.hosts")

LOOPBACK_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Any of these means a proxy hop: the TCP peer is then the proxy, not the caller.
PROXY_HEADERS = frozenset({b"x-forwarded-for", b"x-forwarded-host", b"forwarded", b"x-real-ip"})


def host_name(header: str) -> str | None:
    """The name in a Host header, lower-cased, without port or IPv6 brackets; None when malformed."""
    value = header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
    elif value.count(":") > 1:
        name = value  # a bare IPv6 literal, as some clients send it
    else:
        name, colon, port = value.partition(":")
        if colon and not port.isdigit():
            return None
    name = name.removesuffix(".")
    if not name or any(c.isspace() or c in "/\\@?#" for c in name):
        return None
    return name


def is_loopback_address(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback; False for names and anything unparsable."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_loopback_origin(origin: str) -> bool:
    scheme, separator, rest = origin.partition("://")
    return bool(separator) and scheme in ("http", "https") and host_name(rest) in LOOPBACK_HOST_NAMES


def is_direct_local_request(scope: Scope) -> bool:
    """The TCP peer is loopback, the Host is a loopback name, no proxy hop is declared, and a browser
    request (one with an `Origin`) comes from a page on this machine.

    Uvicorn runs without proxy-header rewriting (see server.py), so `scope["client"]` is the real peer. The
    Origin rule stops a page on any other site from sending a form to 127.0.0.1 in the user's name.
    """
    client = scope.get("client")
    if not client or not is_loopback_address(client[0]):
        return False
    headers = scope.get("headers", ())
    hosts = [value for name, value in headers if name == b"host"]
    if len(hosts) != 1 or host_name(hosts[0].decode("latin-1")) not in LOOPBACK_HOST_NAMES:
        return False
    if any(name in PROXY_HEADERS for name, _ in headers):
        return False
    return all(
        _is_loopback_origin(value.decode("latin-1").strip()) for name, value in headers if name == b"origin"
    )


class HostAllowList:
    """`ALLOWED_HOSTS` entries: exact names, `*.suffix` wildcards (subdomains only), or `*` for any."""

    def __init__(self, patterns: Iterable[str]) -> None:
        cleaned = [p.strip().lower().removesuffix(".") for p in patterns if p.strip()]
        self.any = "*" in cleaned
        self.exact = frozenset(host_name(p) or p for p in cleaned if not p.startswith("*"))
        self.suffixes = tuple(p[1:] for p in cleaned if p.startswith("*."))

    def allows(self, name: str | None) -> bool:
        if self.any:
            return True
        if name is None:
            return False
        return name in self.exact or name.endswith(self.suffixes)


class HostCheckMiddleware:
    """Refuses HTTP requests (400) and WebSocket handshakes whose Host is not on the allow-list."""

    def __init__(self, app: ASGIApp, *, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = HostAllowList(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allowed.any:
            await self.app(scope, receive, send)
            return
        hosts = [value.decode("latin-1") for name, value in scope["headers"] if name == b"host"]
        if len(hosts) == 1 and self.allowed.allows(host_name(hosts[0])):
            await self.app(scope, receive, send)
            return
        shown = hosts[0][:100] if len(hosts) == 1 else f"{len(hosts)} Host headers"
        log.info("host_refused", host=shown, path=scope.get("path"))
        detail = (
            f"Host {shown!r} is not allowed here; add it to ALLOWED_HOSTS if Nova should answer to it"
            if len(hosts) == 1
            else "the request must carry exactly one Host header"
        )
        if scope["type"] == "websocket":
            await _deny_websocket(scope, receive, send, detail)
            return
        await error_response(scope, 400, detail, "bad_host")(scope, receive, send)


async def _deny_websocket(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        await error_response(scope, 400, detail, "bad_host")(scope, receive, send)
    else:  # the server answers the handshake with a bare 403
        await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
