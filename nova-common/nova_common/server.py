"""`python -m <service>`: configure logging and serve the app factory with uvicorn."""

import uvicorn

from nova_common.config import NovaSettings
from nova_common.logging import configure_logging


def serve(factory_path: str, settings: NovaSettings) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    uvicorn.run(
        factory_path,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
