"""`python -m memory_service` serves the app on HOST:PORT."""

from memory_service.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("memory_service.main:create_app", get_settings())
