"""Nova's service contracts: Pydantic models shared by both ends of every HTTP, SSE, WebSocket and queue payload."""

__version__ = "0.1.0"
