"""Nova's service contracts: Pydantic models for every HTTP, SSE, WebSocket and queue payload.

Import a model from its module (`from nova_contracts.memory import MemoryCreate`): nothing is re-exported
here, so two modules may use the same name for different payloads without one shadowing the other.
"""

__version__ = "0.1.0"
