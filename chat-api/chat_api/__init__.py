"""chat-api: WebSocket streaming bridge for external clients (`WS /ws/chat`, test UI at `/`)."""

__version__ = "0.1.0"
