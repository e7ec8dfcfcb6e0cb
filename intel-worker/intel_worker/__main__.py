"""`python -m intel_worker` serves the app on HOST:PORT."""

from nova_common.server import serve

from intel_worker.config import get_settings

if __name__ == "__main__":
    serve("intel_worker.main:create_app", get_settings())
