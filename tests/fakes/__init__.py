"""Fake third-party servers on loopback, speaking the real wire formats, for every service's tests.

Each fake is an ASGI app plus a `Script` of what to answer; `serve_in_thread` runs any ASGI app (a fake or
a real Nova service) under uvicorn on a free loopback port so real clients talk real HTTP to it.

Import it as top-level `fakes` with the repo's `tests/` folder on `sys.path` (see llm-gateway/tests/conftest.py):
several services have a `tests` folder, so `tests.fakes` is ambiguous under pytest's importlib mode.
"""

from .anthropic_fake import FakeAnthropic
from .chatgpt_fake import FakeChatGPT
from .gemini_fake import FakeGemini
from .ollama_fake import FakeOllama
from .openai_fake import FakeOpenAI
from .script import Reply, Script, ToolCallSpec
from .server import LiveServer, free_port, serve_in_thread

__all__ = [
    "FakeAnthropic",
    "FakeChatGPT",
    "FakeGemini",
    "FakeOllama",
    "FakeOpenAI",
    "LiveServer",
    "Reply",
    "Script",
    "ToolCallSpec",
    "free_port",
    "serve_in_thread",
]
