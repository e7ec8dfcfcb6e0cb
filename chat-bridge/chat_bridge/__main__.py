"""`python -m chat_bridge` serves the app on HOST:PORT."""

from nova_common.server import serve

from chat_bridge.config import get_settings

if __name__ == "__main__":
    serve("chat_bridge.main:create_app", get_settings())
