"""The web_search tool against a loopback fake of both backends' real answers (SearXNG's JSON API, DuckDuckGo's
HTML endpoint), through the kit's SSRF guard; and the research flag's refusals on /api/v1/chat/stream."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.fakes import serve_in_thread
from tests.fakes.search_fake import FakeSearchBackend

from nova_common.ssrf import SsrfGuard
from orchestrator.config import Settings
from orchestrator.main import create_app
from orchestrator.tools.registry import ToolError
from orchestrator.tools.web_search import SearchBackendKind, WebSearcher, build_web_searcher

from .conftest import make_settings


@pytest.fixture
def backend() -> Iterator[tuple[FakeSearchBackend, str]]:
    fake = FakeSearchBackend()
    with serve_in_thread(fake.app) as live:
        yield fake, live.url


def _searcher(kind: SearchBackendKind, endpoint: str, **kwargs: object) -> WebSearcher:
    options: dict[str, object] = {"timeout": 5.0, "max_bytes": 100_000, "max_results": 8, **kwargs}
    guard = options.pop("guard", SsrfGuard(allow_loopback_for_tests=True))
    return WebSearcher(kind, endpoint, guard, **options)  # type: ignore[arg-type]


@pytest.fixture
async def searxng(backend: tuple[FakeSearchBackend, str]) -> AsyncIterator[WebSearcher]:
    searcher = _searcher(SearchBackendKind.SEARXNG, backend[1])
    yield searcher
    await searcher.aclose()


async def test_searxng_results_come_back_as_numbered_titles_urls_and_snippets(
    backend: tuple[FakeSearchBackend, str], searxng: WebSearcher
) -> None:
    text = await searxng.search("python asyncio tutorial", 8)
    assert backend[0].queries == [{"q": "python asyncio tutorial", "format": "json"}]
    assert text.splitlines()[:4] == [
        "3 results for 'python asyncio tutorial' (searxng):",
        "1. asyncio — Asynchronous I/O — Python 3.12.1 documentation",
        "   https://docs.python.org/3/library/asyncio.html",
        "   asyncio is a library to write concurrent code using the async/await syntax. asyncio is used as a "
        "foundation for multiple Python asynchronous frameworks.",
    ]
    assert "3. Python Asyncio: The Complete Guide\n   https://superfastpython.com/python-asyncio/" in text


async def test_results_are_capped_at_the_asked_number(searxng: WebSearcher) -> None:
    text = await searxng.search("python asyncio tutorial", 1)
    assert text.startswith("1 results") and "realpython.com" not in text


async def test_duckduckgo_html_results_skip_ads_and_unwrap_the_redirect_links(
    backend: tuple[FakeSearchBackend, str],
) -> None:
    searcher = _searcher(SearchBackendKind.DUCKDUCKGO, backend[1] + "/html/")
    try:
        text = await searcher.search("python asyncio tutorial", 8)
    finally:
        await searcher.aclose()
    assert backend[0].queries == [{"q": "python asyncio tutorial"}]
    assert text.splitlines() == [
        "2 results for 'python asyncio tutorial' (duckduckgo):",
        "1. asyncio — Asynchronous I/O — Python 3.12.1 documentation",
        "   https://docs.python.org/3/library/asyncio.html",
        "   asyncio is a library to write concurrent code using the async/await syntax.",
        "2. Async IO in Python: A Complete Walkthrough \u2013 Real Python",
        "   https://realpython.com/async-io-python/",
        "   This tutorial will give you a firm grasp of Python's approach to async IO.",
    ]
    assert "Sponsored" not in text and "y.js" not in text


async def test_a_backend_on_loopback_is_refused_by_the_ssrf_guard_without_the_test_allowance(
    backend: tuple[FakeSearchBackend, str],
) -> None:
    searcher = _searcher(SearchBackendKind.SEARXNG, backend[1], guard=SsrfGuard())
    try:
        with pytest.raises(ToolError, match=r"refused.*loopback"):
            await searcher.search("anything", 5)
    finally:
        await searcher.aclose()
    assert backend[0].queries == []


async def test_a_searxng_answer_over_the_size_cap_is_a_tool_error(
    backend: tuple[FakeSearchBackend, str],
) -> None:
    backend[0].override = b'{"results": [' + b'{"url": "https://example.com/", "title": "x"},' * 5000
    searcher = _searcher(SearchBackendKind.SEARXNG, backend[1], max_bytes=10_000)
    try:
        with pytest.raises(ToolError, match="larger than 10000 bytes"):
            await searcher.search("big", 5)
    finally:
        await searcher.aclose()


async def test_a_searxng_without_the_json_format_is_a_tool_error_naming_the_status(
    backend: tuple[FakeSearchBackend, str],
) -> None:
    backend[0].override = b"<html>not json</html>"
    searcher = _searcher(SearchBackendKind.SEARXNG, backend[1])
    try:
        with pytest.raises(ToolError, match="did not answer JSON"):
            await searcher.search("q", 5)
    finally:
        await searcher.aclose()


def test_web_search_is_off_unless_a_backend_is_configured(tmp_path: Path) -> None:
    unset = make_settings("postgresql://x@127.0.0.1/x", "redis://127.0.0.1:1", tmp_path)
    assert build_web_searcher(unset) is None
    with pytest.raises(ValidationError, match="WEB_SEARCH_SEARXNG_URL"):
        make_settings(
            "postgresql://x@127.0.0.1/x", "redis://127.0.0.1:1", tmp_path, WEB_SEARCH_BACKEND="searxng"
        )


def test_a_research_chat_without_a_search_backend_is_409_saying_how_to_configure_one(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/chat/stream", json={"message": "look it up", "research": True}, headers=admin
    )
    assert response.status_code == 409
    assert "WEB_SEARCH_BACKEND" in response.json()["detail"]


@pytest.fixture
def searching_client(
    database_url: str, redis_base_url: str, workspace: Path, nova_env: dict[str, str]
) -> Iterator[TestClient]:
    settings: Settings = make_settings(
        database_url,
        redis_base_url,
        workspace,
        WEB_SEARCH_BACKEND="duckduckgo",
        WEB_SEARCH_HTML_URL="http://127.0.0.1:9/html/",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_a_key_whose_tool_policy_leaves_out_the_web_tools_is_refused_research_with_403(
    searching_client: TestClient, admin: dict[str, str]
) -> None:
    client = searching_client
    policy = {"value": ["read_file", "search_memory"]}
    assert (
        client.patch("/api/v1/config/agents.key_default_tools", json=policy, headers=admin).status_code == 200
    )
    created = client.post("/api/v1/keys", json={"name": "ide", "rate_limit_rpm": 10_000}, headers=admin)
    key = {"X-API-Key": created.json()["key"]}

    refused = client.post("/api/v1/chat/stream", json={"message": "find it", "research": True}, headers=key)
    assert refused.status_code == 403
    assert "web_fetch, web_search" in refused.json()["detail"]
    assert "agents.key_default_tools" in refused.json()["detail"]


def test_research_is_409_while_the_administrator_has_the_web_tools_switched_off(
    searching_client: TestClient, admin: dict[str, str]
) -> None:
    client = searching_client
    off = {"groups": {"web": False}}
    assert client.patch("/api/v1/tool-permissions", json=off, headers=admin).status_code == 200
    refused = client.post("/api/v1/chat/stream", json={"message": "find it", "research": True}, headers=admin)
    assert refused.status_code == 409
    assert "web tools are switched off" in refused.json()["detail"]
