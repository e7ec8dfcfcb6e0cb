"""A fake Ollama server: `/api/tags`, `/api/chat` (JSON and NDJSON streaming), `/api/show`, `/api/embed`.

fake = FakeOllama(models=["qwen2.5:7b"])
with serve_in_thread(fake.app) as live:  # OLLAMA base URL: live.url
    ...
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .openai_fake import fake_vector
from .script import Reply, Script, StreamAborted, count_words, pause


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeOllama:
    def __init__(self, models: list[str] | None = None) -> None:
        self.models = models or ["qwen2.5:7b"]
        self.script = Script()
        self.app = Starlette(
            routes=[
                Route("/api/tags", self.tags, methods=["GET"]),
                Route("/api/version", self.version, methods=["GET"]),
                Route("/api/show", self.show, methods=["POST"]),
                Route("/api/chat", self.chat, methods=["POST"]),
                Route("/api/embed", self.embed, methods=["POST"]),
            ]
        )

    async def tags(self, request: Request) -> Response:
        models = [
            {
                "name": m,
                "model": m,
                "modified_at": _now(),
                "size": 1_000_000,
                "digest": "0" * 64,
                "details": {
                    "format": "gguf",
                    "family": "fake",
                    "parameter_size": "7B",
                    "quantization_level": "Q4_0",
                },
            }
            for m in self.models
        ]
        return JSONResponse({"models": models})

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": "0.9.0-fake"})

    async def show(self, request: Request) -> Response:
        return JSONResponse(
            {
                "template": "{{ .Prompt }}",
                "capabilities": ["completion", "tools"],
                "model_info": {"general.architecture": "fake", "fake.context_length": 32768},
                "details": {"family": "fake"},
            }
        )

    async def embed(self, request: Request) -> Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return JSONResponse(
            {
                "model": body["model"],
                "embeddings": [fake_vector(t, 8) for t in inputs],
                "prompt_eval_count": sum(len(str(t).split()) for t in inputs),
            }
        )

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        reply = self.script.take(body, dict(request.headers))
        await pause(reply.delay)
        if reply.status >= 400:
            return JSONResponse({"error": reply.error}, status_code=reply.status)
        prompt, completion = reply.usage(count_words(body.get("messages", [])))
        if body.get("stream", True):
            return StreamingResponse(
                self._stream(body["model"], reply, prompt, completion), media_type="application/x-ndjson"
            )
        message: dict[str, Any] = {"role": "assistant", "content": "" if reply.tool_calls else reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": c.arguments}} for c in reply.tool_calls
            ]
        return JSONResponse(
            {
                "model": body["model"],
                "created_at": _now(),
                "message": message,
                "done": True,
                "done_reason": "stop",
                "total_duration": 1_000_000,
                "load_duration": 1000,
                "prompt_eval_count": prompt,
                "prompt_eval_duration": 1000,
                "eval_count": completion,
                "eval_duration": 1000,
            }
        )

    async def _stream(self, model: str, reply: Reply, prompt: int, completion: int) -> AsyncIterator[str]:
        script = self.script
        script.streams_started += 1
        finished = False
        try:
            for sent, piece in enumerate([] if reply.tool_calls else reply.stream_pieces()):
                await pause(reply.chunk_delay)
                if reply.fail_after_chunks is not None and sent >= reply.fail_after_chunks:
                    raise StreamAborted("scripted mid-stream failure")
                line = {
                    "model": model,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
                yield json.dumps(line) + "\n"
            final_message: dict[str, Any] = {"role": "assistant", "content": ""}
            if reply.tool_calls:
                final_message["tool_calls"] = [
                    {"function": {"name": c.name, "arguments": c.arguments}} for c in reply.tool_calls
                ]
            yield (
                json.dumps(
                    {
                        "model": model,
                        "created_at": _now(),
                        "message": final_message,
                        "done": True,
                        "done_reason": "stop",
                        "total_duration": 1_000_000,
                        "prompt_eval_count": prompt,
                        "eval_count": completion,
                    }
                )
                + "\n"
            )
            finished = True
        finally:
            if finished:
                script.streams_finished += 1
            else:
                script.streams_cancelled += 1
