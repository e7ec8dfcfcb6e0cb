"""`python -m <service>`: configure logging and serve the app factory with uvicorn."""

from typing import Any

import uvicorn

from nova_common.config import NovaSettings
from nova_common.logging import configure_logging


def uvicorn_options(settings: NovaSettings) -> dict[str, Any]:
    """The uvicorn options every service runs with (a service with its own uvicorn.Config starts from these)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        # Never rewrite the peer address from X-Forwarded-For: uvicorn trusts loopback peers by default, so a
        # proxy on this machine would make every caller look local. TRUSTED_PROXIES logs the forwarded
        # address instead (middleware.ForwardedClientMiddleware).
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }


def serve(factory_path: str, settings: NovaSettings) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    uvicorn.run(factory_path, factory=True, **uvicorn_options(settings))
