"""A fake Anthropic Messages API: `POST /v1/messages`, plain and streamed (Anthropic's SSE event types).

fake = FakeAnthropic()
with serve_in_thread(fake.app) as live:  # ANTHROPIC_BASE_URL=live.url
    ...
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .script import Reply, Script, StreamAborted, count_words, pause

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropic:
    def __init__(self) -> None:
        self.script = Script()
        self.app = Starlette(routes=[Route("/v1/messages", self.messages, methods=["POST"])])

    async def messages(self, request: Request) -> Response:
        body = await request.json()
        reply = self.script.take(body, dict(request.headers))
        await pause(reply.delay)
        if reply.status >= 400:
            error = {
                "type": "error",
                "error": {"type": _ERROR_TYPES.get(reply.status, "api_error"), "message": reply.error},
            }
            headers = {"retry-after": str(reply.retry_after)} if reply.retry_after else None
            return JSONResponse(error, status_code=reply.status, headers=headers)
        prompt, completion = reply.usage(count_words(body.get("messages", []), body.get("system")))
        if body.get("stream"):
            return StreamingResponse(
                self._stream(body["model"], reply, prompt, completion), media_type="text/event-stream"
            )
        content: list[dict[str, Any]] = []
        if reply.content and not reply.tool_calls:
            content.append({"type": "text", "text": reply.content})
        for call in reply.tool_calls:
            content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
        return JSONResponse(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt, "output_tokens": completion},
            }
        )

    async def _stream(self, model: str, reply: Reply, prompt: int, completion: int) -> AsyncIterator[str]:
        script = self.script
        script.streams_started += 1
        finished = False

        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        try:
            yield event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_fake",
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": prompt, "output_tokens": 1},
                    },
                },
            )
            index = 0
            if not reply.tool_calls:
                yield event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                for sent, piece in enumerate(reply.stream_pieces()):
                    await pause(reply.chunk_delay)
                    if reply.fail_after_chunks is not None and sent >= reply.fail_after_chunks:
                        raise StreamAborted("scripted mid-stream failure")
                    yield event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
                index = 1
            for offset, call in enumerate(reply.tool_calls):
                block = index + offset
                yield event(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": block,
                        "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
                    },
                )
                arguments = json.dumps(call.arguments)
                half = len(arguments) // 2
                for part in (arguments[:half], arguments[half:]):
                    yield event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": block,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        },
                    )
                yield event("content_block_stop", {"type": "content_block_stop", "index": block})
            yield event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": completion},
                },
            )
            yield event("message_stop", {"type": "message_stop"})
            finished = True
        finally:
            if finished:
                script.streams_finished += 1
            else:
                script.streams_cancelled += 1
