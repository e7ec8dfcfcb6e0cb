"""`python -m voice_service` serves the app on HOST:PORT."""

from nova_common.server import serve
from voice_service.config import get_settings

if __name__ == "__main__":
    serve("voice_service.main:create_app", get_settings())
