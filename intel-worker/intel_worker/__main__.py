"""`python -m intel_worker` serves the app on HOST:PORT."""

from intel_worker.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("intel_worker.main:create_app", get_settings())
