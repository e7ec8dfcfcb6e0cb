"""chat-bridge: multi-platform chat integration (Telegram, Slack)."""

__version__ = "0.1.0"
