"""`web_search`: a query to the operator's search backend, answered as compact text with URLs.

Two backends: a SearXNG instance's JSON API (`GET <instance>/search?q=…&format=json`, its `results[]` of
`title`, `url`, `content`), or a keyless HTML endpoint in DuckDuckGo's result markup (`a.result__a`,
`.result__snippet`). Every request goes through the kit's SSRF guard (redirects re-vetted), with a timeout
and a cap on the bytes read. With no backend configured the tool is off and says how to configure one.
"""

import json
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from nova_common.ssrf import SsrfGuard, SsrfRefused, guarded_client
from orchestrator.tools.registry import Tool, ToolContext, ToolError, int_arg, schema, string_arg

if TYPE_CHECKING:
    from orchestrator.config import Settings

USER_AGENT = "Nova/0.1 (+self-hosted agent; web_search)"
SNIPPET_CHARS = 300
MAX_QUERY_CHARS = 500
NOT_CONFIGURED = (
    "web search is not configured: the operator sets WEB_SEARCH_BACKEND=searxng and WEB_SEARCH_SEARXNG_URL "
    "(an instance with the json format enabled), or WEB_SEARCH_BACKEND=duckduckgo for the keyless HTML "
    "endpoint, in .env, then restarts the orchestrator"
)


class SearchBackendKind(StrEnum):
    SEARXNG = "searxng"
    DUCKDUCKGO = "duckduckgo"


@dataclass
class SearchHit:
    title: str
    url: str
    snippet: str = ""


def parse_searxng(body: bytes) -> list[SearchHit]:
    """SearXNG's JSON answer; anything else is a ToolError naming what came back."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ToolError(
            "the SearXNG instance did not answer JSON (is `json` in its search.formats?)"
        ) from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise ToolError("the SearXNG answer has no `results` list")
    hits = []
    for item in results:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        title, content = item.get("title"), item.get("content")
        hits.append(
            SearchHit(
                title=title if isinstance(title, str) else item["url"],
                url=item["url"],
                snippet=content if isinstance(content, str) else "",
            )
        )
    return hits


def _result_url(href: str) -> str:
    """DuckDuckGo links each result through `/l/?uddg=<target>`; the target is what the model needs."""
    parts = urlsplit(href)
    if parts.path.endswith("/l/"):
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return href


class _DuckDuckGoResults(HTMLParser):
    """Collects `a.result__a` (title and link) and the `.result__snippet` after it, skipping ads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hits: list[SearchHit] = []
        self._in_ad = False
        self._field: str | None = None  # "title" or "snippet" while inside one
        self._tag = ""
        self._nested = 0  # same-name tags opened inside the field, so the right end tag closes it
        self._href = ""
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._field is not None:
            self._nested += tag == self._tag
            return
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if "result" in classes:
            self._in_ad = "result--ad" in classes
        if "result__a" in classes:
            self._field, self._href = "title", values.get("href") or ""
        elif "result__snippet" in classes:
            self._field = "snippet"
        else:
            return
        self._tag, self._nested, self._text = tag, 0, []

    def handle_endtag(self, tag: str) -> None:
        if self._field is None or tag != self._tag:
            return
        if self._nested:
            self._nested -= 1
            return
        text = " ".join("".join(self._text).split())
        url = _result_url(self._href)
        if self._in_ad:
            pass
        elif self._field == "title" and url.startswith(("http://", "https://")):
            self.hits.append(SearchHit(title=text or url, url=url))
        elif self._field == "snippet" and self.hits and not self.hits[-1].snippet:
            self.hits[-1].snippet = text
        self._field = None

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._text.append(data)


def parse_duckduckgo_html(body: bytes, encoding: str = "utf-8") -> list[SearchHit]:
    parser = _DuckDuckGoResults()
    parser.feed(body.decode(encoding, errors="replace"))
    parser.close()
    return parser.hits


def format_hits(query: str, hits: list[SearchHit], backend: SearchBackendKind) -> str:
    if not hits:
        return f"no results for {query!r} ({backend.value})"
    lines = [f"{len(hits)} results for {query!r} ({backend.value}):"]
    for number, hit in enumerate(hits, 1):
        lines.append(f"{number}. {hit.title}\n   {hit.url}")
        snippet = " ".join(hit.snippet.split())
        if snippet:
            cut = snippet if len(snippet) <= SNIPPET_CHARS else snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
            lines.append(f"   {cut}")
    return "\n".join(lines)


class WebSearcher:
    """One configured backend behind the SSRF guard; `search` answers the tool's text."""

    def __init__(
        self,
        backend: SearchBackendKind,
        endpoint: str,
        guard: SsrfGuard,
        *,
        timeout: float,
        max_bytes: int,
        max_results: int,
    ) -> None:
        self.backend = backend
        # SearXNG is given as its instance URL; the HTML endpoint is the search page itself.
        self.endpoint = endpoint.rstrip("/") + "/search" if backend is SearchBackendKind.SEARXNG else endpoint
        self.max_bytes = max_bytes
        self.max_results = max_results
        self.http = guarded_client(
            guard, timeout=timeout, max_redirects=3, headers={"User-Agent": USER_AGENT}
        )

    async def search(self, query: str, max_results: int) -> str:
        params = {"q": query}
        if self.backend is SearchBackendKind.SEARXNG:
            params["format"] = "json"
        body = bytearray()
        try:
            async with self.http.stream("GET", self.endpoint, params=params) as response:
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        break
        except SsrfRefused as exc:
            raise ToolError(f"the search backend was refused: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ToolError(f"the search backend failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise ToolError(f"the search backend answered HTTP {response.status_code}")
        if len(body) > self.max_bytes and self.backend is SearchBackendKind.SEARXNG:
            raise ToolError(f"the search backend's answer is larger than {self.max_bytes} bytes")
        if self.backend is SearchBackendKind.SEARXNG:
            hits = parse_searxng(bytes(body))
        else:
            # A cut HTML page still parses: the results before the cut are kept.
            hits = parse_duckduckgo_html(bytes(body[: self.max_bytes]), response.encoding or "utf-8")
        return format_hits(query, hits[: min(max_results, self.max_results)], self.backend)

    async def aclose(self) -> None:
        await self.http.aclose()


def build_web_searcher(settings: "Settings") -> WebSearcher | None:
    """The operator's backend, or None while WEB_SEARCH_BACKEND is unset (the tool then says how to set it)."""
    backend = settings.web_search_backend
    if backend is None:
        return None
    endpoint = settings.web_search_searxng_url if backend is SearchBackendKind.SEARXNG else None
    return WebSearcher(
        backend,
        endpoint or settings.web_search_html_url,
        SsrfGuard.from_settings(settings, allowed_networks=settings.web_search_allowed_networks),
        timeout=settings.web_fetch_timeout_seconds,
        max_bytes=settings.web_fetch_max_bytes,
        max_results=settings.web_search_max_results,
    )


async def web_search(args: dict[str, Any], ctx: ToolContext) -> str:
    query = string_arg(args, "query").strip()
    if not query or len(query) > MAX_QUERY_CHARS:
        raise ToolError(f"argument 'query' must be 1 to {MAX_QUERY_CHARS} characters")
    max_results = int_arg(args, "max_results", 8, low=1, high=20)
    if ctx.web_search is None:
        raise ToolError(NOT_CONFIGURED)
    return await ctx.web_search(query, max_results)


WEB_SEARCH_TOOLS = [
    Tool(
        "web_search",
        "web",
        "Search the web; answers titles, URLs and snippets. Read a result with web_fetch.",
        schema(
            {"query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1, "maximum": 20}},
            ["query"],
        ),
        web_search,
    )
]
