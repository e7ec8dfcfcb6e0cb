"""`python -m orchestrator` serves the app on HOST:PORT."""

from nova_common.server import serve
from orchestrator.config import get_settings

if __name__ == "__main__":
    serve("orchestrator.main:create_app", get_settings())
