"""Which web pages may open `/ws/chat`.

Browsers apply no CORS to WebSockets: any page the user visits can open a socket to 127.0.0.1:8080, and
with the user's local access chat with their agent and read its tool results. What a browser does send on
every handshake is the page's `Origin`, which a page cannot forge, so the handshake is refused unless the
Origin is one of the dashboard's, chat-api's own (its test page) or one the admin listed. A client that
sends no Origin is not a browser (a bot, a CLI, an SDK) and is let through to authenticate as usual.
"""

from urllib.parse import urlsplit

from chat_api.config import Settings

# The dashboard under `make run` (Vite's port in development is in CORS_ALLOWED_ORIGINS' default).
DASHBOARD_ORIGINS = ("http://localhost:3000", "http://127.0.0.1:3000")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> str | None:
    """`scheme://host[:port]` as browsers serialise it (lower case, default port left out); None if `value`
    is not an http(s) origin (`null` from a sandboxed frame or a file:// page among them)."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def allowed_origins(settings: Settings) -> frozenset[str]:
    own = [f"http://{host}:{settings.port}" for host in ("localhost", "127.0.0.1", "[::1]")]
    extra = [o for o in settings.ws_allowed_origins.split(",") if o.strip()]
    candidates = [*DASHBOARD_ORIGINS, *settings.cors_origins, settings.chat_api_url, *own, *extra]
    return frozenset(origin for c in candidates if (origin := normalize_origin(c)) is not None)


class OriginPolicy:
    def __init__(self, settings: Settings) -> None:
        self.allowed = allowed_origins(settings)

    def admits(self, origin: str | None) -> bool:
        """No Origin: not a browser. Otherwise the page must be on the list."""
        if origin is None:
            return True
        return normalize_origin(origin) in self.allowed
