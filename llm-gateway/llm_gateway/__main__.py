"""`python -m llm_gateway` serves the app on HOST:PORT."""

from llm_gateway.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("llm_gateway.main:create_app", get_settings())
