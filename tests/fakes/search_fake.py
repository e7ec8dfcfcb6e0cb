"""A fake web search backend on loopback: SearXNG's JSON API (`GET /search?q=…&format=json`) and
DuckDuckGo's keyless HTML endpoint (`GET /html/?q=…`), each answering a recorded result page.

SearXNG answers 403 when `json` is not among its enabled formats, as the real one does; the fake does the
same for any other `format`. Every query is logged.
"""

from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parent / "web_fixtures"


@dataclass
class FakeSearchBackend:
    queries: list[dict[str, str]] = field(default_factory=list)
    # A body served instead of the recorded one (a test of an oversized or broken answer sets it).
    override: bytes | None = None

    @property
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/search", self._searxng), Route("/html/", self._duckduckgo)])

    async def _searxng(self, request: Request) -> Response:
        self.queries.append(dict(request.query_params))
        if request.query_params.get("format") != "json":
            return PlainTextResponse("Forbidden", status_code=403)
        body = self.override or (FIXTURES / "searxng_search.json").read_bytes()
        return Response(body, media_type="application/json")

    async def _duckduckgo(self, request: Request) -> Response:
        self.queries.append(dict(request.query_params))
        body = self.override or (FIXTURES / "duckduckgo_html.html").read_bytes()
        return Response(body, media_type="text/html; charset=UTF-8")
