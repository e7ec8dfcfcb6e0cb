"""`python -m cortex` serves the app on HOST:PORT."""

from cortex.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("cortex.main:create_app", get_settings())
