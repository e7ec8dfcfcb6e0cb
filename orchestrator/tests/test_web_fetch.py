"""The web_fetch tool on the kit's SSRF guard (nova-common/tests/test_ssrf_guard.py covers the guard itself):
refusals come back to the model as tool errors, pages as text."""

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from tests.fakes import serve_in_thread

from orchestrator.tools.registry import ToolError
from orchestrator.tools.web import SsrfGuard, WebFetcher


@pytest.fixture
def site() -> Iterator[str]:
    async def to_metadata(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/iam/", status_code=302)

    async def to_page(request: Request) -> Response:
        return RedirectResponse("/page", status_code=301)

    async def page(request: Request) -> Response:
        return HTMLResponse(
            "<html><head><style>p{}</style><script>alert(1)</script></head>"
            f"<body><h1>Hello</h1><p>Host was {request.headers['host']}</p></body></html>"
        )

    app = Starlette(
        routes=[Route("/to-metadata", to_metadata), Route("/to-page", to_page), Route("/page", page)]
    )
    with serve_in_thread(app) as live:
        yield live.url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://[::127.0.0.1]/", "file:///etc/passwd"])
async def test_a_refused_target_is_a_tool_error_for_the_model(url: str) -> None:
    fetcher = WebFetcher(SsrfGuard(), timeout=2, max_bytes=1000)
    try:
        with pytest.raises(ToolError, match="refused"):
            await fetcher.fetch(url, 1000)
    finally:
        await fetcher.aclose()


async def test_a_redirect_to_cloud_metadata_is_a_tool_error(site: str) -> None:
    fetcher = WebFetcher(SsrfGuard(allow_loopback_for_tests=True), timeout=5, max_bytes=10_000)
    try:
        with pytest.raises(ToolError, match=r"169\.254\.169\.254"):
            await fetcher.fetch(site + "/to-metadata", 5000)
    finally:
        await fetcher.aclose()


async def test_an_allowed_page_is_fetched_as_text_with_its_original_host_header(site: str) -> None:
    fetcher = WebFetcher(SsrfGuard(allow_loopback_for_tests=True), timeout=5, max_bytes=10_000)
    try:
        text = await fetcher.fetch(site + "/to-page", 5000)
    finally:
        await fetcher.aclose()
    assert text.startswith(f"HTTP 200 {site}/page")
    assert "Hello" in text and "alert" not in text
    assert f"Host was {site.removeprefix('http://')}" in text
