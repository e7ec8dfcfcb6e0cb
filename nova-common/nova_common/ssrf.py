"""The SSRF guard: fetch a URL a model, a feed or a user gave us without reaching inside the network.

`SsrfGuard.vet(url)` resolves the host once and refuses unless every address is public: no loopback,
private, link-local, multicast, reserved, unspecified, shared (CGNAT) or cloud-metadata address. IPv6 forms
that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64, 6to4, Teredo) are judged
by that IPv4 address, so `::127.0.0.1` is loopback here as it is to the kernel.

`guarded_client(guard)` is an httpx client whose transport vets every request, redirects included, and
connects to the vetted address itself (the Host header and TLS server name stay the original name), so a DNS
answer that changes between check and connect (rebinding) cannot redirect it:

    async with guarded_client(SsrfGuard.from_settings(settings), timeout=15) as http:
        response = await http.get(url)        # raises SsrfRefused for a forbidden target or redirect
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Self

import httpx

from nova_common.config import NovaSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

DEFAULT_MAX_REDIRECTS = 5

# Instance-metadata endpoints: link-local or private ones are refused anyway; Azure's wireserver is public.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "192.0.0.192",
    )
)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
_LOW32 = 0xFFFFFFFF


class SsrfRefused(Exception):
    """The URL, or a redirect it led to, points somewhere the caller may not reach; the message says why."""


def _nat64_local_candidates(value: int) -> list[ipaddress.IPv4Address]:
    """The IPv4 address under each prefix length an operator may use inside 64:ff9b:1::/48 (RFC 6052 2.2).

    The translator's prefix length is not visible in the address, so every plausible reading is returned:
    the /96 one always, a /48, /56 or /64 one when its "u" octet (bits 64-71) and its suffix are zero.
    """
    candidates = [ipaddress.IPv4Address(value & _LOW32)]
    if (value >> 56) & 0xFF == 0:
        without_u = ((value >> 64) << 56) | (value & ((1 << 56) - 1))
        for length in (48, 56, 64):
            suffix_bits = 128 - (length + 40)
            if value & ((1 << suffix_bits) - 1) == 0:
                candidates.append(ipaddress.IPv4Address((without_u >> (120 - length - 32)) & _LOW32))
    return candidates


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address a packet to `ip` may end up at; empty for a plain IPv6 address."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    value = int(ip)
    if ip in _IPV4_COMPATIBLE and value > 1:  # not :: or ::1, which are IPv6's own
        return [ipaddress.IPv4Address(value & _LOW32)]
    if ip in _NAT64_WELL_KNOWN:
        return [ipaddress.IPv4Address(value & _LOW32)]
    if ip in _NAT64_LOCAL_USE:
        return _nat64_local_candidates(value)
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        server, client = ip.teredo  # the client's address is stored inverted; ipaddress undoes that
        return [server, client]
    return []


def refusal_reason(
    ip: IPAddress, *, allowed_networks: Iterable[IPNetwork] = (), allow_loopback: bool = False
) -> str | None:
    """Why `ip` must not be reached, or None when it may be."""
    carried = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else []
    if carried:
        for inner in carried:
            reason = refusal_reason(inner, allowed_networks=allowed_networks, allow_loopback=allow_loopback)
            if reason is not None:
                return f"{reason}, {inner}, carried in an IPv6 address"
        return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    # An operator's exceptions (a LAN wiki, say) open private ranges, never the ones above.
    if any(ip in network for network in allowed_networks if network.version == ip.version):
        return None
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class SsrfGuard:
    """Decides where outbound fetches may go. `allow_loopback_for_tests` exists for tests' fake sites only."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        allowed_networks: Iterable[IPNetwork] = (),
        allow_loopback_for_tests: bool = False,
    ) -> None:
        self.resolver = resolver
        self.allowed_networks = tuple(allowed_networks)
        self.allow_loopback = allow_loopback_for_tests

    @classmethod
    def from_settings(cls, settings: NovaSettings, **kwargs: Any) -> Self:
        """The guard a service uses: loopback stays refused unless SSRF_ALLOW_LOOPBACK_FOR_TESTS is set."""
        return cls(allow_loopback_for_tests=settings.ssrf_allow_loopback_for_tests, **kwargs)

    def refusal_reason(self, ip: IPAddress) -> str | None:
        return refusal_reason(ip, allowed_networks=self.allowed_networks, allow_loopback=self.allow_loopback)

    async def vet(self, url: httpx.URL) -> IPAddress:
        """The address to connect to for `url` (resolved once, every answer checked), or `SsrfRefused`."""
        if url.scheme not in ("http", "https"):
            raise SsrfRefused(f"refused: only http and https URLs can be fetched, not {url.scheme or 'none'}")
        host = url.host
        if not host:
            raise SsrfRefused("refused: the URL has no host")
        literal = True
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            literal = False
            try:
                addresses = await self.resolver(host, url.port or (443 if url.scheme == "https" else 80))
            except (OSError, UnicodeError) as exc:
                raise SsrfRefused(f"refused: {host} does not resolve ({exc})") from exc
        if not addresses:
            raise SsrfRefused(f"refused: {host} does not resolve")
        # Every answer, not only the one we will use: a name that also points inside is not a public name.
        for ip in addresses:
            reason = self.refusal_reason(ip)
            if reason is not None:
                named = host if literal else f"{host} resolves to {ip}"
                raise SsrfRefused(f"refused: {named}, {reason}")
        return addresses[0]


class SsrfGuardedTransport(httpx.AsyncBaseTransport):
    """Vets each request's URL and sends it to the vetted address, keeping the Host header and TLS name."""

    def __init__(self, guard: SsrfGuard, *, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.guard = guard
        # No keep-alive: pooled connections are keyed by address, and a TLS connection verified for one
        # name must never carry a request for another name that resolves to the same address.
        self.inner = inner or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        ip = await self.guard.vet(request.url)
        extensions = dict(request.extensions)
        if request.url.scheme == "https":
            extensions["sni_hostname"] = request.url.host
        # A new request (the client keeps the original, so redirects resolve against the real name);
        # the headers already hold `Host: <original name>`.
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=str(ip)),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )
        return await self.inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self.inner.aclose()


def guarded_client(
    guard: SsrfGuard,
    *,
    timeout: float | httpx.Timeout,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """An httpx client that follows redirects, each hop vetted; proxies from the environment are ignored
    (a proxy would resolve the name itself, after our check)."""
    return httpx.AsyncClient(
        transport=SsrfGuardedTransport(guard),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=max_redirects,
        trust_env=False,
        **kwargs,
    )
