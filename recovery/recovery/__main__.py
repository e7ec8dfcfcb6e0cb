"""`python -m recovery` serves the app on HOST:PORT."""

from nova_common.server import serve
from recovery.config import get_settings

if __name__ == "__main__":
    serve("recovery.main:create_app", get_settings())
