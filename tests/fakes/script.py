"""What a fake provider answers next, and what it was asked: shared by every fake provider."""

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallSpec:
    name: str
    arguments: dict[str, Any]
    id: str = "call_fake_1"


@dataclass
class Reply:
    """One scripted answer. Defaults: a short text answer, immediately, with usage counted from the words."""

    content: str = "Hello from the fake provider."
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    status: int = 200
    error: str = "scripted failure"
    retry_after: int | None = None
    delay: float = 0.0  # seconds before answering at all (longer than the client's timeout = a timeout)
    chunk_delay: float = 0.0  # seconds between stream chunks
    fail_after_chunks: int | None = None  # streaming: drop the connection after this many chunks
    prompt_tokens: int | None = None  # default: words in the request's messages
    completion_tokens: int | None = None  # default: words in `content`

    def stream_pieces(self) -> list[str]:
        words = self.content.split(" ")
        return [word if i == 0 else " " + word for i, word in enumerate(words) if word or i == 0]

    def usage(self, request_words: int) -> tuple[int, int]:
        prompt = self.prompt_tokens if self.prompt_tokens is not None else request_words
        completion = (
            self.completion_tokens if self.completion_tokens is not None else len(self.content.split())
        )
        return prompt, completion


class StreamAborted(Exception):
    """Raised inside a streaming body to cut the connection mid-stream."""


class Script:
    """Queue of replies (then `default` forever) and a log of requests and stream outcomes."""

    def __init__(self) -> None:
        self.default = Reply()
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.streams_started = 0
        self.streams_finished = 0
        self.streams_cancelled = 0

    def push(self, *replies: Reply) -> "Script":
        with self._lock:
            self._queue.extend(replies)
        return self

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.headers.clear()
            self.default = Reply()
            self.streams_started = self.streams_finished = self.streams_cancelled = 0

    def take(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self._queue.popleft() if self._queue else self.default

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]


def count_words(messages: list[dict[str, Any]], system: Any = None) -> int:
    total = 0
    for item in [*([{"content": system}] if system else []), *messages]:
        content = item.get("content")
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    total += len(block["text"].split())
    return total


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
