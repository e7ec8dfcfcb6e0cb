"""`python -m knowledge_worker` serves the app on HOST:PORT."""

from nova_common.server import serve

from knowledge_worker.config import get_settings

if __name__ == "__main__":
    serve("knowledge_worker.main:create_app", get_settings())
