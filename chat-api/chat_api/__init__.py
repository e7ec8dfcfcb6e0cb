"""chat-api: webSocket streaming bridge for external clients."""

__version__ = "0.1.0"
