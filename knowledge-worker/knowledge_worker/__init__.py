"""knowledge-worker: autonomous personal-knowledge crawler."""

__version__ = "0.1.0"
