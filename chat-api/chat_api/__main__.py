"""`python -m chat_api` serves the app on HOST:PORT."""

from chat_api.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("chat_api.main:create_app", get_settings())
