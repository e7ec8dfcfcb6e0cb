"""The kit's SSRF guard: private, loopback, link-local, metadata and reserved addresses are refused, by literal,
by DNS answer, in every IPv6 form that carries an IPv4 address, and after a redirect; nothing is sent to a
refused address, and a vetted name is connected to at the address that was checked."""

import ipaddress
import re
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from nova_common.config import NovaSettings
from nova_common.embedded import free_port
from nova_common.ssrf import (
    IPAddress,
    Resolver,
    SsrfGuard,
    SsrfRefused,
    embedded_ipv4,
    guarded_client,
    refusal_reason,
)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.10:8000/",
        "http://localhost:8000/admin",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://100.100.100.200/latest/meta-data/",
        "http://168.63.129.16/machine",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://[ff02::1]/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ],
)
async def test_non_public_targets_are_refused(url: str) -> None:
    async with guarded_client(SsrfGuard(), timeout=2) as http:
        with pytest.raises(SsrfRefused, match="refused"):
            await http.get(url)


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
        ("::10.0.0.1", "10.0.0.1"),
        ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64, well-known prefix
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("64:ff9b:1::a00:1", "10.0.0.1"),  # NAT64, local-use prefix
        ("2002:7f00:1::", "127.0.0.1"),  # 6to4
        ("2002:c0a8:101::1", "192.168.1.1"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),  # Teredo: client 127.0.0.1, stored inverted
    ],
)
async def test_ipv6_forms_carrying_a_private_ipv4_address_are_refused_as_that_address(
    address: str, carried: str
) -> None:
    assert ipaddress.ip_address(carried) in embedded_ipv4(ipaddress.IPv6Address(address))
    async with guarded_client(SsrfGuard(), timeout=2) as http:
        with pytest.raises(SsrfRefused, match=re.escape(f"refused: {address}, ") + ".*" + re.escape(carried)):
            await http.get(f"http://[{address}]/")


def test_a_local_use_nat64_address_is_refused_if_any_prefix_length_reads_it_as_private() -> None:
    # 127.0.0.1 under a /48 translator prefix (bits 48-63 and 72-87); its /96 reading is 0.0.0.0.
    assert ipaddress.ip_address("127.0.0.1") in embedded_ipv4(ipaddress.IPv6Address("64:ff9b:1:7f00:0:100::"))
    assert refusal_reason(ipaddress.ip_address("64:ff9b:1:7f00:0:100::")) is not None


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "64:ff9b:1::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_and_ipv6_forms_of_public_ipv4_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


async def test_a_name_resolving_to_a_private_address_among_public_ones_is_refused() -> None:
    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.1.2.3")]

    with pytest.raises(SsrfRefused, match=r"looks-public\.example resolves to 10\.1\.2\.3"):
        await SsrfGuard(resolver=rebinding).vet(httpx.URL("http://looks-public.example/"))


def test_loopback_is_reachable_only_through_the_explicit_test_setting() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    everything_allowed = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    assert SsrfGuard().refusal_reason(loopback) == "a loopback address"
    assert SsrfGuard(allowed_networks=everything_allowed).refusal_reason(loopback) == "a loopback address"
    assert SsrfGuard.from_settings(NovaSettings()).refusal_reason(loopback) == "a loopback address"
    testing = NovaSettings(SSRF_ALLOW_LOOPBACK_FOR_TESTS=True)  # type: ignore[call-arg]
    assert SsrfGuard.from_settings(testing).refusal_reason(loopback) is None
    # Even for tests, metadata and private ranges stay closed.
    assert (
        SsrfGuard.from_settings(testing).refusal_reason(ipaddress.ip_address("169.254.169.254")) is not None
    )


def test_an_operators_allowed_network_opens_a_private_range_but_never_metadata() -> None:
    lan = SsrfGuard(
        allowed_networks=[ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("169.254.0.0/16")]
    )
    assert lan.refusal_reason(ipaddress.ip_address("10.2.3.4")) is None
    assert lan.refusal_reason(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"
    assert lan.refusal_reason(ipaddress.ip_address("192.168.1.1")) == "a private address"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A web site on loopback: redirects to forbidden places, and pages that echo what reached them."""

    async def to_metadata(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/iam/", status_code=302)

    async def to_private(request: Request) -> Response:
        return RedirectResponse("http://10.0.0.7:8080/", status_code=307)

    async def to_nat64_metadata(request: Request) -> Response:
        return RedirectResponse("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", status_code=302)

    async def to_file(request: Request) -> Response:
        return RedirectResponse("file:///etc/passwd", status_code=302)

    async def to_page(request: Request) -> Response:
        return RedirectResponse("/page", status_code=301)

    async def page(request: Request) -> Response:
        return PlainTextResponse(f"Host was {request.headers['host']}")

    app = Starlette(
        routes=[
            Route("/to-metadata", to_metadata),
            Route("/to-private", to_private),
            Route("/to-nat64-metadata", to_nat64_metadata),
            Route("/to-file", to_file),
            Route("/to-page", to_page),
            Route("/page", page),
        ]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _test_guard(resolver: Resolver | None = None) -> SsrfGuard:
    # The site lives on loopback, so loopback is opened the one way there is; nothing else is.
    if resolver is None:
        return SsrfGuard(allow_loopback_for_tests=True)
    return SsrfGuard(allow_loopback_for_tests=True, resolver=resolver)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/to-metadata", "169.254.169.254"),
        ("/to-private", "10.0.0.7"),
        ("/to-nat64-metadata", "64:ff9b::a9fe:a9fe"),
    ],
)
async def test_a_redirect_to_a_forbidden_address_is_refused(site: str, path: str, target: str) -> None:
    async with guarded_client(_test_guard(), timeout=5) as http:
        with pytest.raises(SsrfRefused, match=target.replace(".", r"\.")):
            await http.get(site + path)


async def test_a_redirect_to_another_scheme_is_not_followed(site: str) -> None:
    async with guarded_client(_test_guard(), timeout=5) as http:
        with pytest.raises((SsrfRefused, httpx.UnsupportedProtocol)):
            await http.get(site + "/to-file")


async def test_an_allowed_page_is_fetched_after_a_redirect_with_its_original_host_header(site: str) -> None:
    async with guarded_client(_test_guard(), timeout=5) as http:
        response = await http.get(site + "/to-page")
    assert response.status_code == 200
    assert response.text == f"Host was {site.removeprefix('http://')}"
    assert str(response.url) == site + "/page"


async def test_a_name_is_resolved_once_and_connected_to_at_the_vetted_address(site: str) -> None:
    port = httpx.URL(site).port
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        # A rebinding server would answer differently the next time; there must be no next time.
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    async with guarded_client(_test_guard(resolver), timeout=5) as http:
        # `rebind.invalid` exists in no DNS: the page is reached only through the address the guard vetted.
        response = await http.get(f"http://rebind.invalid:{port}/page")
    assert response.text == f"Host was rebind.invalid:{port}"
    assert lookups == ["rebind.invalid"]
