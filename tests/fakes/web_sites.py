"""Fake web sites on loopback for the intel and knowledge workers: recorded feed documents served with real
ETag/Last-Modified semantics, and a small website with the traps a crawler must avoid.

Both keep an access log (time, method, path, Host header), so a test can check what was fetched and how
often, from the server's side.
"""

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parent / "web_fixtures"
_TYPES = {
    ".xml": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
LAST_MODIFIED = "Thu, 03 Dec 2026 16:00:00 GMT"


@dataclass
class Hit:
    at: float
    method: str
    path: str
    host: str
    headers: dict[str, str]


@dataclass
class SiteState:
    hits: list[Hit] = field(default_factory=list)
    # Overrides: path -> document body (a page watcher test changes a page between polls).
    documents: dict[str, bytes] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    # The fake GitHub API: what X-RateLimit-Remaining says, and the one token `/user` accepts.
    github_remaining: int = 59
    github_token: str = "ghp_fake_valid_token_0123456789"

    def paths(self, host: str | None = None) -> list[str]:
        return [h.path for h in self.hits if host is None or h.host.split(":")[0] == host]


def _log(state: SiteState, request: Request) -> None:
    state.hits.append(
        Hit(
            time.monotonic(),
            request.method,
            request.url.path,
            request.headers.get("host", ""),
            dict(request.headers),
        )
    )


def feed_site(state: SiteState) -> Starlette:
    """`/f/<fixture file>` serves a recorded document; a matching If-None-Match or If-Modified-Since gets 304.
    Paths in `state.failing` answer 500; `/f/huge` streams past any sane cap; `/watch/<name>` serves
    `state.documents[...]`."""

    def document(name: str) -> bytes:
        if name in state.documents:
            return state.documents[name]
        return (FIXTURES / name).read_bytes()

    async def serve(request: Request) -> Response:
        _log(state, request)
        name = request.path_params["name"]
        if request.url.path in state.failing:
            return PlainTextResponse("upstream exploded", status_code=500)
        if name == "huge":

            async def chunks():  # type: ignore[no-untyped-def]
                for _ in range(4096):
                    yield b"<item>" + b"x" * 1024 + b"</item>"

            return StreamingResponse(chunks(), media_type="application/rss+xml")
        body = document(name)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        # RFC 9110 13.2.2: If-None-Match, when sent, decides alone; If-Modified-Since only without it.
        if_none_match = request.headers.get("if-none-match")
        unchanged = (
            if_none_match == etag
            if if_none_match is not None
            else request.headers.get("if-modified-since") == LAST_MODIFIED
        )
        if unchanged:
            return Response(status_code=304, headers={"ETag": etag})
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ".html"
        return Response(
            body,
            media_type=_TYPES.get(suffix, "text/html"),
            headers={"ETag": etag, "Last-Modified": LAST_MODIFIED},
        )

    async def reddit(request: Request) -> Response:
        _log(state, request)
        return Response((FIXTURES / "reddit_listing.json").read_bytes(), media_type="application/json")

    return Starlette(
        routes=[
            Route("/f/{name}", serve),
            Route("/watch/{name}", serve),
            Route("/r/{sub}/.json", reddit),
        ]
    )


def _page(title: str, body: str, links: list[str]) -> str:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><script>var tracking = 1;</script></head>"
        f"<body><nav><a href='/'>Home</a> menu menu menu</nav><main><h1>{title}</h1><p>{body}</p>"
        f"<ul>{anchors}</ul></main><footer>© footer text</footer></body></html>"
    )


def crawl_site(state: SiteState, *, off_host: str, slow_seconds: float = 3.0) -> Starlette:
    """A small site: `/` links to docs pages, a robots-disallowed area, a redirect to a private address, an
    off-host page (`off_host`, a URL on another host name), a slow page, a huge page and a PDF."""

    pages: dict[str, tuple[str, str, list[str]]] = {
        "/": (
            "Nova docs",
            "Welcome to the documentation of the Nova platform.",
            [
                "/docs/install",
                "/docs/config",
                "/private/secrets",
                "/go/internal",
                off_host,
                "/slow",
                "/huge",
                "/download/manual",
                "/docs/install#again",
            ],
        ),
        "/docs/install": (
            "Install",
            "Install Nova with make run. It needs Python 3.12 and Docker.",
            ["/docs/config", "/docs/deep/1"],
        ),
        "/docs/config": (
            "Configure",
            "Settings live in .env; CREDENTIAL_MASTER_KEY is generated.",
            ["/", "/docs/install"],
        ),
        "/docs/deep/1": ("Deep 1", "One level further down.", ["/docs/deep/2"]),
        "/docs/deep/2": ("Deep 2", "Two levels further down.", ["/docs/deep/3"]),
        "/docs/deep/3": ("Deep 3", "Three levels further down.", []),
        "/private/secrets": ("Secrets", "Robots may not read this.", []),
    }

    async def robots(request: Request) -> Response:
        _log(state, request)
        return PlainTextResponse("User-agent: *\nDisallow: /private/\n")

    async def page(request: Request) -> Response:
        _log(state, request)
        path = request.url.path
        if path in state.documents:
            return Response(state.documents[path], media_type="text/html")
        if path not in pages:
            return PlainTextResponse("not found", status_code=404)
        return Response(_page(*pages[path]), media_type="text/html; charset=utf-8")

    async def redirect_inside(request: Request) -> Response:
        _log(state, request)
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    async def slow(request: Request) -> Response:
        _log(state, request)
        await asyncio.sleep(slow_seconds)
        return Response(_page("Slow", "This page took its time.", []), media_type="text/html")

    async def huge(request: Request) -> Response:
        _log(state, request)

        async def chunks():  # type: ignore[no-untyped-def]
            yield b"<html><body><main><p>"
            for _ in range(8192):
                yield b"word " * 256
            yield b"</p></main></body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    async def pdf(request: Request) -> Response:
        _log(state, request)
        return Response(b"%PDF-1.7\n%binary", media_type="application/pdf")

    def rate_headers() -> dict[str, str]:
        state.github_remaining = max(state.github_remaining - 1, 0)
        reset = str(int(time.time()) + 3600)
        return {"X-RateLimit-Remaining": str(state.github_remaining), "X-RateLimit-Reset": reset}

    async def github_user(request: Request) -> Response:
        _log(state, request)
        body = (FIXTURES / "github_user.json").read_bytes()
        return Response(body, media_type="application/json", headers=rate_headers())

    async def github_repos(request: Request) -> Response:
        _log(state, request)
        body = (FIXTURES / "github_repos.json").read_bytes()
        return Response(body, media_type="application/json", headers=rate_headers())

    async def github_readme(request: Request) -> Response:
        _log(state, request)
        repo = request.path_params["repo"]
        if repo == "dotfiles":
            return JSONResponse({"message": "Not Found"}, status_code=404, headers=rate_headers())
        return PlainTextResponse(
            f"# {repo}\n\nThe README of {repo}: how to use it and why it exists.\n", headers=rate_headers()
        )

    async def github_authenticated_user(request: Request) -> Response:
        _log(state, request)
        if request.headers.get("authorization") != f"Bearer {state.github_token}":
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"login": "octo-nova"}, headers={"X-OAuth-Scopes": "read:user, repo"})

    return Starlette(
        routes=[
            Route("/robots.txt", robots),
            Route("/go/internal", redirect_inside),
            Route("/slow", slow),
            Route("/huge", huge),
            Route("/download/manual", pdf),
            Route("/user", github_authenticated_user),
            Route("/users/{login}", github_user),
            Route("/users/{login}/repos", github_repos),
            Route("/repos/{owner}/{repo}/readme", github_readme),
            Route("/{path:path}", page),
        ]
    )
