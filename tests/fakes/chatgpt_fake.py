"""A fake ChatGPT/Codex backend: `POST /backend-api/codex/responses`, the endpoint a ChatGPT Plus/Pro
subscription is used through (Codex CLI, LiteLLM's `chatgpt/` provider).

fake = FakeChatGPT()
with serve_in_thread(fake.app) as live:  # API base for clients: f"{live.url}/backend-api/codex"
    ...

That backend speaks only OpenAI's Responses API and only streamed: the request must say `"stream": true` and
`"store": false` and carries an `Authorization: Bearer <ChatGPT access token>`; the answer is the Responses SSE
events (`response.created`, `response.output_item.added`, `response.output_text.delta`, ...,
`response.completed` with the usage).
"""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .script import Reply, Script, StreamAborted, pause

_ERROR_TYPES = {401: "invalid_request_error", 429: "usage_limit_reached", 400: "invalid_request_error"}


def _words(body: dict[str, Any]) -> int:
    """Words in the `input` items' text (the fixed `instructions` are not counted)."""
    total = 0
    items = body.get("input")
    for item in [{"content": items}] if isinstance(items, str) else items or []:
        content = item.get("content")
        if isinstance(content, str):
            total += len(content.split())
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"].split())
    return total


class FakeChatGPT:
    def __init__(self) -> None:
        self.script = Script()
        self.app = Starlette(routes=[Route("/backend-api/codex/responses", self.responses, methods=["POST"])])

    async def responses(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        body = await request.json()
        # What the real backend refuses, so a client that would fail there fails here too.
        if body.get("stream") is not True:
            return JSONResponse({"detail": "Stream must be set to true"}, status_code=400)
        if body.get("store") is not False:
            return JSONResponse({"detail": "Store must be set to false"}, status_code=400)
        if not body.get("instructions"):
            return JSONResponse({"detail": "Instructions are required"}, status_code=400)
        reply = self.script.take(body, dict(request.headers))
        await pause(reply.delay)
        if reply.status >= 400:
            error = {
                "error": {"type": _ERROR_TYPES.get(reply.status, "server_error"), "message": reply.error}
            }
            headers = {"retry-after": str(reply.retry_after)} if reply.retry_after else None
            return JSONResponse(error, status_code=reply.status, headers=headers)
        prompt, completion = reply.usage(_words(body))
        return StreamingResponse(
            self._events(body.get("model", ""), reply, prompt, completion), media_type="text/event-stream"
        )

    async def _events(self, model: str, reply: Reply, prompt: int, completion: int) -> AsyncIterator[str]:
        script = self.script
        script.streams_started += 1
        finished = False
        sequence = 0
        response: dict[str, Any] = {
            "id": "resp_fake",
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "model": model,
            "output": [],
            "usage": None,
        }

        def event(kind: str, **fields: Any) -> str:
            nonlocal sequence
            sequence += 1
            payload = {"type": kind, "sequence_number": sequence, **fields}
            return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"

        try:
            yield event("response.created", response=response)
            yield event("response.in_progress", response=response)
            output: list[dict[str, Any]] = []
            if reply.tool_calls:
                for index, call in enumerate(reply.tool_calls):
                    arguments = json.dumps(call.arguments)
                    item: dict[str, Any] = {
                        "id": f"fc_fake_{index}",
                        "type": "function_call",
                        "status": "in_progress",
                        "call_id": call.id,
                        "name": call.name,
                        "arguments": "",
                    }
                    yield event("response.output_item.added", output_index=index, item=item)
                    half = len(arguments) // 2
                    for piece in (arguments[:half], arguments[half:]):
                        yield event(
                            "response.function_call_arguments.delta",
                            item_id=item["id"],
                            output_index=index,
                            delta=piece,
                        )
                    done = {**item, "status": "completed", "arguments": arguments}
                    yield event(
                        "response.function_call_arguments.done",
                        item_id=item["id"],
                        output_index=index,
                        arguments=arguments,
                    )
                    yield event("response.output_item.done", output_index=index, item=done)
                    output.append(done)
            else:
                message: dict[str, Any] = {
                    "id": "msg_fake",
                    "type": "message",
                    "status": "in_progress",
                    "role": "assistant",
                    "content": [],
                }
                yield event("response.output_item.added", output_index=0, item=message)
                empty = {"type": "output_text", "text": "", "annotations": []}
                yield event(
                    "response.content_part.added",
                    item_id="msg_fake",
                    output_index=0,
                    content_index=0,
                    part=empty,
                )
                for sent, piece in enumerate(reply.stream_pieces()):
                    await pause(reply.chunk_delay)
                    if reply.fail_after_chunks is not None and sent >= reply.fail_after_chunks:
                        raise StreamAborted("scripted mid-stream failure")
                    yield event(
                        "response.output_text.delta",
                        item_id="msg_fake",
                        output_index=0,
                        content_index=0,
                        delta=piece,
                    )
                text = {"type": "output_text", "text": reply.content, "annotations": []}
                yield event(
                    "response.output_text.done",
                    item_id="msg_fake",
                    output_index=0,
                    content_index=0,
                    text=reply.content,
                )
                yield event(
                    "response.content_part.done",
                    item_id="msg_fake",
                    output_index=0,
                    content_index=0,
                    part=text,
                )
                done = {**message, "status": "completed", "content": [text]}
                yield event("response.output_item.done", output_index=0, item=done)
                output.append(done)
            usage = {
                "input_tokens": prompt,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": completion,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt + completion,
            }
            yield event(
                "response.completed",
                response={**response, "status": "completed", "output": output, "usage": usage},
            )
            finished = True
        finally:
            if finished:
                script.streams_finished += 1
            else:
                script.streams_cancelled += 1
