"""intel-worker: AI ecosystem feed poller (RSS, Reddit JSON, GitHub trending/releases)."""

__version__ = "0.1.0"
