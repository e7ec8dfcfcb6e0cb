"""A fake Gemini API (Google AI Studio): `generateContent` and `streamGenerateContent?alt=sse`.

fake = FakeGemini()
with serve_in_thread(fake.app) as live:  # API base for clients: f"{live.url}/v1beta"
    ...

Gemini's REST shapes: the model and the method are in the path (`/v1beta/models/gemini-2.5-flash:generateContent`),
the key in the `x-goog-api-key` header (or `?key=`), the conversation in `contents[].parts[]`, and the answer
in `candidates[0].content.parts[]` with `usageMetadata`. A stream is one whole `GenerateContentResponse` per SSE
`data:` line, the last carrying `finishReason`.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .script import Reply, Script, StreamAborted, pause

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _error(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
    headers = {"retry-after": str(retry_after)} if retry_after else None
    return JSONResponse(body, status_code=status, headers=headers)


def _words(body: dict[str, Any]) -> int:
    total = 0
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    for content in [system, *body.get("contents", [])]:
        for part in content.get("parts") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                total += len(part["text"].split())
    return total


class FakeGemini:
    def __init__(self) -> None:
        self.script = Script()
        # "<model>:<method>" per call, e.g. "gemini-2.5-flash:streamGenerateContent".
        self.calls: list[str] = []
        self.app = Starlette(routes=[Route("/v1beta/models/{target}", self.models_call, methods=["POST"])])

    async def models_call(self, request: Request) -> Response:
        model, _, method = request.path_params["target"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            return _error(404, f"method {method!r} is not supported by this fake")
        if not (request.headers.get("x-goog-api-key") or request.query_params.get("key")):
            return _error(403, "Method doesn't allow unregistered callers. Please use an API key.")
        body = await request.json()
        self.calls.append(f"{model}:{method}")
        reply = self.script.take(body, dict(request.headers))
        await pause(reply.delay)
        if reply.status >= 400:
            return _error(reply.status, reply.error, reply.retry_after)
        prompt, completion = reply.usage(_words(body))
        if method == "streamGenerateContent":
            if request.query_params.get("alt") != "sse":
                return _error(400, "this fake streams only with alt=sse")
            return StreamingResponse(
                self._stream(model, reply, prompt, completion), media_type="text/event-stream"
            )
        return JSONResponse(self._response(model, self._parts(reply), "STOP", prompt, completion))

    @staticmethod
    def _parts(reply: Reply) -> list[dict[str, Any]]:
        if reply.tool_calls:
            return [{"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.tool_calls]
        return [{"text": reply.content}]

    @staticmethod
    def _response(
        model: str, parts: list[dict[str, Any]], finish: str | None, prompt: int, completion: int
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {
            "candidates": [candidate],
            "usageMetadata": {
                "promptTokenCount": prompt,
                "candidatesTokenCount": completion,
                "totalTokenCount": prompt + completion,
            },
            "modelVersion": model,
            "responseId": "fake-gemini-response",
        }

    async def _stream(self, model: str, reply: Reply, prompt: int, completion: int) -> AsyncIterator[str]:
        script = self.script
        script.streams_started += 1
        finished = False

        def event(payload: dict[str, Any]) -> str:
            return f"data: {json.dumps(payload)}\r\n\r\n"

        try:
            if reply.tool_calls:
                yield event(self._response(model, self._parts(reply), "STOP", prompt, completion))
            else:
                pieces = reply.stream_pieces()
                for sent, piece in enumerate(pieces):
                    await pause(reply.chunk_delay)
                    if reply.fail_after_chunks is not None and sent >= reply.fail_after_chunks:
                        raise StreamAborted("scripted mid-stream failure")
                    last = sent == len(pieces) - 1
                    # Like the real API, every chunk carries usage so far; the last one the final figures.
                    so_far = completion if last else min(completion, sent + 1)
                    yield event(
                        self._response(model, [{"text": piece}], "STOP" if last else None, prompt, so_far)
                    )
            finished = True
        finally:
            if finished:
                script.streams_finished += 1
            else:
                script.streams_cancelled += 1
