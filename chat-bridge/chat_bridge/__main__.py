"""`python -m chat_bridge` serves the app on HOST:PORT."""

from chat_bridge.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("chat_bridge.main:create_app", get_settings())
