"""`python -m chat_api`: uvicorn with the WebSocket limits from the settings.

The kit's `serve()` leaves uvicorn's WebSocket options at their defaults; chat-api needs the frame-size cap and
the heartbeat enforced by the protocol layer, before a megabyte frame is buffered or a dead peer lingers.
"""

import logging
import re

import uvicorn

from chat_api.config import Settings
from nova_common.logging import configure_logging
from nova_common.server import NovaServer, uvicorn_options

_TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """uvicorn logs each WebSocket's path with its query string, and `?token=sk-nova-…` is the seed's way
    to authenticate: keep the key out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _TOKEN_IN_QUERY.sub(r"\1***", record.msg)
        return True


def uvicorn_config(settings: Settings, app: object = "chat_api.main:create_app") -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        factory=isinstance(app, str),
        # The kit's options, among them no peer rewriting from X-Forwarded-For (a proxy must not look local).
        **uvicorn_options(settings),
        ws_max_size=settings.ws_max_message_bytes,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
    )


def serve(settings: Settings) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(RedactTokens())
    NovaServer(uvicorn_config(settings)).run()
