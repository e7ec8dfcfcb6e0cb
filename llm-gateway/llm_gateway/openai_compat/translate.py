"""Nova's `CompleteRequest`/`CompleteResponse`/`StreamChunk` ⇄ OpenAI's chat-completions format."""

import json
from typing import Any

from nova_contracts.llm import (
    CompleteRequest,
    CompleteResponse,
    FinishReason,
    Message,
    NamedToolChoice,
    StreamChunk,
    ToolCall,
)

_FINISH = {
    "stop": FinishReason.STOP,
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "max_tokens": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "tool_use": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def finish_reason(value: str | None) -> FinishReason:
    return _FINISH.get(value or "stop", FinishReason.STOP)


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    if isinstance(message.content, str):
        out["content"] = message.content
    else:
        out["content"] = [block.model_dump(exclude_none=True) for block in message.content]
    if message.name:
        out["name"] = message.name
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": ref.id,
                "type": "function",
                "function": {"name": ref.name, "arguments": json.dumps(ref.arguments)},
            }
            for ref in message.tool_calls
        ]
        if out["content"] == "":
            out["content"] = None
    return out


def to_openai_body(request: CompleteRequest) -> dict[str, Any]:
    """The OpenAI request body (without `model`) for a Nova completion request."""
    body: dict[str, Any] = {
        "messages": [_message(m) for m in request.messages],
        "temperature": request.temperature,
    }
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in request.tools
        ]
    if isinstance(request.tool_choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice.name}}
    elif request.tool_choice is not None:
        body["tool_choice"] = request.tool_choice
    if request.response_format is not None and request.response_format.type != "text":
        fmt: dict[str, Any] = {"type": request.response_format.type}
        schema = request.response_format.json_schema
        if schema is not None:
            # OpenAI wants {"name", "schema", "strict"?}; a bare JSON Schema is wrapped.
            fmt["json_schema"] = schema if "schema" in schema else {"name": "response", "schema": schema}
        body["response_format"] = fmt
    return body


def parse_arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_value": value}


def tool_calls_from(message: dict[str, Any]) -> list[ToolCall]:
    calls = []
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        calls.append(
            ToolCall(
                id=call.get("id") or f"call_{index}",
                name=function.get("name") or "unknown",
                arguments=parse_arguments(function.get("arguments")),
            )
        )
    return calls


def to_complete_response(
    response: dict[str, Any], *, provider: str, cost_usd: float | None, latency_ms: int, cached: bool
) -> CompleteResponse:
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    usage = response.get("usage") or {}
    return CompleteResponse(
        content=message.get("content") or "",
        model=str(response.get("model", "")),
        provider=provider,
        tool_calls=tool_calls_from(message),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cost_usd=cost_usd,
        finish_reason=finish_reason(choice.get("finish_reason")),
        cached=cached,
        latency_ms=latency_ms,
    )


class StreamTranslator:
    """Turns OpenAI chunks into `StreamChunk`s; tool-call fragments are assembled and sent with the last one."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}
        self.finish: str | None = None

    def feed(self, chunk: dict[str, Any]) -> StreamChunk | None:
        choice = (chunk.get("choices") or [{}])[0]
        delta = choice.get("delta") or {}
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        for fragment in delta.get("tool_calls") or []:
            call = self._calls.setdefault(
                int(fragment.get("index") or 0), {"id": "", "name": "", "arguments": ""}
            )
            function = fragment.get("function") or {}
            call["id"] = fragment.get("id") or call["id"]
            call["name"] = function.get("name") or call["name"]
            call["arguments"] += function.get("arguments") or ""
        text = delta.get("content")
        return StreamChunk(delta=text) if text else None

    def last(
        self, *, model: str, input_tokens: int, output_tokens: int, cost_usd: float | None
    ) -> StreamChunk:
        calls = [
            ToolCall(
                id=c["id"] or f"call_{i}",
                name=c["name"] or "unknown",
                arguments=parse_arguments(c["arguments"]),
            )
            for i, c in sorted(self._calls.items())
        ]
        reason = finish_reason(self.finish)
        if calls and reason is FinishReason.STOP:
            reason = FinishReason.TOOL_CALLS
        return StreamChunk(
            tool_calls=calls,
            finish_reason=reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            model=model,
        )
