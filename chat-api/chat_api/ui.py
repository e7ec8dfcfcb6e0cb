"""`GET /`: the built-in browser test UI (static files shipped in the package, nothing from a CDN)."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from nova_common.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
_ASSETS = {"chat.js": "text/javascript", "markdown.js": "text/javascript", "chat.css": "text/css"}

router = APIRouter(include_in_schema=False)


def _security_headers(request: Request) -> dict[str, str]:
    host = request.headers.get("host", "")
    return {
        # Scripts and styles only from this server; the socket only to this host.
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@router.get("/")
async def get_test_ui(request: Request) -> FileResponse:
    """The chat test page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_security_headers(request))


@router.get("/static/{name}")
async def get_test_ui_asset(name: str, request: Request) -> FileResponse:
    """A script or stylesheet of the test page."""
    if name not in _ASSETS:
        raise NotFound(f"no asset {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=_ASSETS[name], headers=_security_headers(request))
