"""web_fetch's SSRF guard: private, loopback, link-local and metadata addresses are refused, by literal,
by DNS answer and after a redirect; nothing is sent to a refused address."""

import ipaddress
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from tests.fakes import serve_in_thread

from orchestrator.tools.web import IPAddress, SsrfGuard, SsrfRefused, WebFetcher


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/admin",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ],
)
async def test_non_public_targets_are_refused(url: str) -> None:
    fetcher = WebFetcher(SsrfGuard(), timeout=2, max_bytes=1000)
    try:
        with pytest.raises(SsrfRefused, match="refused"):
            await fetcher.fetch(url, 1000)
    finally:
        await fetcher.aclose()


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.1.2.3")]

    with pytest.raises(SsrfRefused, match=r"10\.1\.2\.3"):
        await SsrfGuard(resolver=rebinding).vet(httpx.URL("http://looks-public.example/"))


@pytest.fixture
def redirector() -> Iterator[str]:
    async def to_metadata(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/iam/", status_code=302)

    async def to_private(request: Request) -> Response:
        return RedirectResponse("http://10.0.0.7:8080/", status_code=307)

    async def to_page(request: Request) -> Response:
        return RedirectResponse("/page", status_code=301)

    async def page(request: Request) -> Response:
        return HTMLResponse(
            "<html><head><style>p{}</style><script>alert(1)</script></head>"
            f"<body><h1>Hello</h1><p>Host was {request.headers['host']}</p></body></html>"
        )

    app = Starlette(
        routes=[
            Route("/to-metadata", to_metadata),
            Route("/to-private", to_private),
            Route("/to-page", to_page),
            Route("/page", page),
        ]
    )
    with serve_in_thread(app) as live:
        yield live.url


def _guard_trusting_loopback() -> SsrfGuard:
    # The test server lives on loopback, so the first hop is explicitly allowed; nothing else is.
    return SsrfGuard(allowed_networks=[ipaddress.ip_network("127.0.0.1/32")])


@pytest.mark.parametrize(
    ("path", "target"), [("/to-metadata", "169.254.169.254"), ("/to-private", "10.0.0.7")]
)
async def test_a_redirect_to_a_private_address_is_refused(redirector: str, path: str, target: str) -> None:
    fetcher = WebFetcher(_guard_trusting_loopback(), timeout=5, max_bytes=10_000)
    try:
        with pytest.raises(SsrfRefused, match=target.replace(".", r"\.")):
            await fetcher.fetch(redirector + path, 5000)
    finally:
        await fetcher.aclose()


async def test_an_allowed_page_is_fetched_as_text_with_its_original_host_header(redirector: str) -> None:
    fetcher = WebFetcher(_guard_trusting_loopback(), timeout=5, max_bytes=10_000)
    try:
        text = await fetcher.fetch(redirector + "/to-page", 5000)
    finally:
        await fetcher.aclose()
    assert text.startswith("HTTP 200 ")
    assert "Hello" in text and "alert" not in text
    assert f"Host was {redirector.removeprefix('http://')}" in text
