"""A fake OpenAI-compatible server: `/v1/chat/completions` (plain and SSE), `/v1/embeddings`, `/v1/models`.

fake = FakeOpenAI(models=["gpt-4o-mini"])
with serve_in_thread(fake.app) as live:  # base URL for clients: f"{live.url}/v1"
    fake.script.push(Reply(status=429))
"""

import hashlib
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .script import Reply, Script, StreamAborted, count_words, pause


def _error(reply: Reply) -> JSONResponse:
    kind = {429: "rate_limit_error", 401: "authentication_error", 400: "invalid_request_error"}
    body = {"error": {"message": reply.error, "type": kind.get(reply.status, "server_error"), "code": None}}
    headers = {"retry-after": str(reply.retry_after)} if reply.retry_after else None
    return JSONResponse(body, status_code=reply.status, headers=headers)


def fake_vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [((digest[i % len(digest)] + i) % 251) / 125.0 - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class FakeOpenAI:
    def __init__(self, models: list[str] | None = None, *, owned_by: str = "fake") -> None:
        # owned_by "me" makes it look like llama-cpp-python's server, "vllm" like vLLM.
        self.models = models or ["gpt-4o-mini", "fake-model"]
        self.owned_by = owned_by
        self.script = Script()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/models", self.list_models, methods=["GET"]),
            ]
        )

    async def list_models(self, request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": self.owned_by} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        reply = self.script.take(body, dict(request.headers))
        if reply.status >= 400:
            return _error(reply)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, dims)}
            for i, t in enumerate(inputs)
        ]
        tokens = sum(len(str(t).split()) for t in inputs)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        reply = self.script.take(body, dict(request.headers))
        await pause(reply.delay)
        if reply.status >= 400:
            return _error(reply)
        prompt, completion = reply.usage(count_words(body.get("messages", [])))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._stream(body["model"], reply, prompt, completion, include_usage),
                media_type="text/event-stream",
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.tool_calls:
            message["content"] = None
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in reply.tool_calls
            ]
            finish = "tool_calls"
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def _stream(
        self, model: str, reply: Reply, prompt: int, completion: int, include_usage: bool
    ) -> AsyncIterator[str]:
        script = self.script
        script.streams_started += 1
        finished = False

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n"

        try:
            sent = 0
            yield chunk({"role": "assistant", "content": ""})
            pieces = [] if reply.tool_calls else reply.stream_pieces()
            for piece in pieces:
                await pause(reply.chunk_delay)
                if reply.fail_after_chunks is not None and sent >= reply.fail_after_chunks:
                    raise StreamAborted("scripted mid-stream failure")
                yield chunk({"content": piece})
                sent += 1
            for index, call in enumerate(reply.tool_calls):
                arguments = json.dumps(call.arguments)
                half = len(arguments) // 2
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call.id,
                                "type": "function",
                                "function": {"name": call.name, "arguments": arguments[:half]},
                            }
                        ]
                    }
                )
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]})
            yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
            if include_usage:
                usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
                payload = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(payload)}\n\n"
            yield "data: [DONE]\n\n"
            finished = True
        finally:
            if finished:
                script.streams_finished += 1
            else:
                script.streams_cancelled += 1
