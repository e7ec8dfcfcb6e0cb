"""`python -m knowledge_worker` serves the app on HOST:PORT."""

from knowledge_worker.config import get_settings
from nova_common.server import serve

if __name__ == "__main__":
    serve("knowledge_worker.main:create_app", get_settings())
