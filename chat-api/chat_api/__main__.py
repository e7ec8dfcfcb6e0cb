"""`python -m chat_api` serves the app on HOST:PORT."""

from chat_api.config import get_settings
from chat_api.server import serve

if __name__ == "__main__":
    serve(get_settings())
