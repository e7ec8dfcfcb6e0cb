"""`/stream` (Nova SSE) and streamed `/v1/chat/completions`: chunks, usage, failures, cancellation."""

import json
from typing import Any

import httpx
from fakes import Reply, ToolCallSpec

from nova_common.testing import eventually

USER = [{"role": "user", "content": "stream to me please"}]


def sse_payloads(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


async def test_stream_sends_deltas_then_a_final_chunk_with_usage_then_done(
    gateway_factory: Any, wired: dict[str, Any], fake_local: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    fake_local.script.push(Reply(content="one two three", prompt_tokens=9, completion_tokens=3))
    response = await gateway.client.post("/stream", json={"messages": USER}, headers=service_headers)
    assert response.status_code == 200
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert "".join(c.get("delta", "") for c in chunks) == "one two three"
    last = chunks[-1]
    assert last["finish_reason"] == "stop"
    assert (last["input_tokens"], last["output_tokens"]) == (9, 3)
    assert last["model"] == "smollm2-135m"


async def test_stream_assembles_streamed_tool_call_fragments(
    gateway_factory: Any, wired: dict[str, Any], fake_anthropic: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    fake_anthropic.script.push(
        Reply(tool_calls=[ToolCallSpec("get_weather", {"city": "Oslo", "days": 3}, id="tu_9")])
    )
    body = {
        "model": "anthropic/claude-sonnet-4-6",
        "messages": USER,
        "tools": [{"name": "get_weather", "parameters": {"type": "object"}}],
    }
    response = await gateway.client.post("/stream", json=body, headers=service_headers)
    chunks = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
    last = chunks[-1]
    assert last["finish_reason"] == "tool_calls"
    assert last["tool_calls"] == [
        {"id": "tu_9", "name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}
    ]


async def test_upstream_failure_mid_stream_becomes_a_final_error_chunk(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    fake_openai: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired)
    fake_local.script.push(Reply(content="a b c d e f", fail_after_chunks=2, chunk_delay=0.05))
    response = await gateway.client.post("/stream", json={"messages": USER}, headers=service_headers)
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert "".join(c.get("delta", "") for c in chunks) == "a b"
    assert chunks[-1]["finish_reason"] == "error"
    assert "local" in chunks[-1]["error"]
    # Part of the answer was already sent: no silent restart on another provider.
    assert fake_openai.script.requests == []


async def test_stream_falls_back_when_the_first_provider_fails_before_any_chunk(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    fake_openai: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired)
    fake_local.script.push(Reply(status=500))
    fake_openai.script.push(Reply(content="cloud stream"))
    response = await gateway.client.post("/stream", json={"messages": USER}, headers=service_headers)
    chunks = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
    assert "".join(c.get("delta", "") for c in chunks) == "cloud stream"
    assert chunks[-1]["model"] == "groq/llama-3.3-70b-versatile"


async def test_stream_with_no_usable_model_is_a_503_before_any_event(
    gateway_factory: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(llm_routing_strategy="local-only")
    response = await gateway.client.post("/stream", json={"messages": USER}, headers=service_headers)
    assert response.status_code == 503
    assert "local" in response.json()["detail"]


async def test_stream_of_unknown_model_is_a_400_in_openai_shape(
    gateway_factory: Any, wired: dict[str, Any]
) -> None:
    gateway = await gateway_factory(**wired)
    body = {"model": "no-such-model", "messages": USER, "stream": True}
    response = await gateway.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_client_disconnect_cancels_the_upstream_stream(
    live_gateway_factory: Any, wired: dict[str, Any], fake_local: Any, service_headers: dict[str, str]
) -> None:
    url = live_gateway_factory(**wired)
    fake_local.script.push(Reply(content=" ".join(f"w{i}" for i in range(200)), chunk_delay=0.05))
    with httpx.Client(timeout=30) as client:
        with client.stream(
            "POST", f"{url}/stream", json={"messages": USER}, headers=service_headers
        ) as response:
            received = 0
            for line in response.iter_lines():
                if line.startswith("data: "):
                    received += 1
                if received >= 3:
                    break
    eventually(
        lambda: fake_local.script.streams_cancelled, timeout=20, interval=0.05, what="stream cancelled"
    )
    assert fake_local.script.streams_cancelled == 1
    assert fake_local.script.streams_finished == 0
    eventually(
        lambda: httpx.get(f"{url}/health/inflight").json()["local_inflight"] == 0,
        timeout=20,
        interval=0.05,
        what="no local request in flight",
    )


async def test_streamed_usage_record_carries_provider_token_counts_ttft_and_caller_tags(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    service_headers: dict[str, str],
    usage_records: Any,
) -> None:
    gateway = await gateway_factory(**wired)
    fake_local.script.push(Reply(content="x y", prompt_tokens=21, completion_tokens=2))
    body = {"messages": USER, "metadata": {"agent_id": "agent-7", "task_id": "task-9", "api_key_id": "key-1"}}
    await gateway.client.post("/stream", json=body, headers=service_headers)
    records = await usage_records(gateway)
    record = records[-1]
    assert (record["input_tokens"], record["output_tokens"]) == (21, 2)
    assert record["ttft_ms"] is not None
    assert (record["agent_id"], record["task_id"], record["api_key_id"]) == ("agent-7", "task-9", "key-1")
    assert record["provider"] == "local" and record["model"] == "smollm2-135m"
    assert record["kind"] == "completion" and record["cache_hit"] is False


async def test_completion_usage_record_has_cost_latency_and_cache_flag(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_openai: Any,
    service_headers: dict[str, str],
    usage_records: Any,
) -> None:
    gateway = await gateway_factory(**wired)
    fake_openai.script.push(Reply(content="hi", prompt_tokens=40, completion_tokens=4))
    body = {"messages": USER, "model": "openai/gpt-4o-mini", "temperature": 0}
    await gateway.client.post("/complete", json=body, headers=service_headers)
    await gateway.client.post("/complete", json=body, headers=service_headers)
    records = await usage_records(gateway)
    fresh, cached = records[-2], records[-1]
    assert (fresh["input_tokens"], fresh["output_tokens"]) == (40, 4)
    assert fresh["cost_usd"] > 0 and fresh["cache_hit"] is False
    assert cached["cache_hit"] is True and cached["cost_usd"] == 0.0
    assert cached["input_tokens"] == 40


async def test_stream_is_for_services_and_the_admin_only_and_answers_as_an_event_stream(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    service_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    """An internal route: no credential, a wrong service token or an API key is a 401 with a `detail` before
    any event; the service token and the admin secret get the stream, served by the kit's `EventStream`."""
    gateway = await gateway_factory(**wired)
    refused = [
        {},
        {"X-Service-Token": "not-the-token-0123456789"},
        {"Authorization": "Bearer sk-nova-0123456789abcdef"},
    ]
    for headers in refused:
        response = await gateway.client.post("/stream", json={"messages": USER}, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["detail"]
    for headers in (service_headers, admin_headers):
        fake_local.script.push(Reply(content="hello"))
        response = await gateway.client.post("/stream", json={"messages": USER}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        payloads = sse_payloads(response.text)
        assert payloads[-1] == "[DONE]"
        assert "".join(json.loads(p).get("delta", "") for p in payloads[:-1]) == "hello"
