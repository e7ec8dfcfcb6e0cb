"""llm-gateway: multi-provider model routing via LiteLLM."""

__version__ = "0.1.0"
