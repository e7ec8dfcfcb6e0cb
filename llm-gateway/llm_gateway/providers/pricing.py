"""Prices and context windows from LiteLLM's bundled price map, and a prompt-size estimate.

The map is read as the JSON file LiteLLM ships (no `import litellm`, which takes seconds and is not needed
on the OpenAI-compatible fast path). Token estimates use tiktoken's cl100k encoding from the copy LiteLLM
bundles, so nothing is downloaded.
"""

import importlib.util
import json
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

from nova_contracts.llm import extract_text_content

DEFAULT_CLOUD_CONTEXT_WINDOW = 128_000


def _litellm_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class PriceMap:
    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Parse the bundled map (a few MB of JSON); call from a thread at startup."""
        with self._lock:
            if self._entries is not None:
                return
            root = _litellm_dir()
            path = root / "model_prices_and_context_window_backup.json" if root else None
            self._entries = json.loads(path.read_text()) if path and path.exists() else {}

    def _entry(self, prefix: str, model: str) -> dict[str, Any] | None:
        if self._entries is None:
            self.load()
        entries = self._entries or {}
        for key in (f"{prefix}/{model}", model, model.split("/", 1)[-1]):
            entry = entries.get(key)
            if entry:
                return entry
        return None

    def context_window(self, prefix: str, model: str) -> int | None:
        entry = self._entry(prefix, model)
        if entry is None:
            return None
        value = entry.get("max_input_tokens") or entry.get("max_tokens")
        return int(value) if value else None

    def cost_usd(self, prefix: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
        entry = self._entry(prefix, model)
        if entry is None or "input_cost_per_token" not in entry:
            return None
        cost = input_tokens * float(entry.get("input_cost_per_token") or 0.0) + output_tokens * float(
            entry.get("output_cost_per_token") or 0.0
        )
        return round(cost, 10)


@cache
def _encoding() -> Any:
    root = _litellm_dir()
    if root is not None and not os.environ.get("TIKTOKEN_CACHE_DIR"):
        os.environ["TIKTOKEN_CACHE_DIR"] = str(root / "litellm_core_utils" / "tokenizers")
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(block.get("text", ""))) for block in content if isinstance(block, dict))
    return total


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """cl100k token count of the message texts plus OpenAI's per-message framing (about 4 tokens)."""
    encoding = _encoding()
    total = 0
    for message in messages:
        text = extract_text_content(message.get("content"))
        total += len(encoding.encode(text, disallowed_special=())) + 4
    return total + 3
