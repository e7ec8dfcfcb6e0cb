"""The OpenAI-compatible API, driven by the official `openai` SDK and by LiteLLM as a client."""

import json
from typing import Any

import openai
import pytest
from fakes import Reply, ToolCallSpec, serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

USER = [{"role": "user", "content": "hello gateway"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def sdk(live_gateway_factory: Any, wired: dict[str, Any]) -> openai.OpenAI:
    url = live_gateway_factory(**wired)
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local-placeholder", max_retries=0)


def test_sdk_chat_completion_names_the_model_that_answered(sdk: openai.OpenAI, fake_local: Any) -> None:
    fake_local.script.push(Reply(content="hi there", prompt_tokens=5, completion_tokens=2))
    completion = sdk.chat.completions.create(model="smollm2-135m", messages=USER)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "hi there"
    assert completion.model == "smollm2-135m"
    assert completion.usage is not None and completion.usage.prompt_tokens == 5


def test_sdk_streaming_with_include_usage_gets_usage_in_the_final_chunk(
    sdk: openai.OpenAI, fake_local: Any
) -> None:
    fake_local.script.push(Reply(content="alpha beta gamma", prompt_tokens=6, completion_tokens=3))
    stream = sdk.chat.completions.create(
        model="smollm2-135m",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "alpha beta gamma"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (6, 3)


def test_sdk_streaming_without_include_usage_gets_no_usage_chunk(sdk: openai.OpenAI, fake_local: Any) -> None:
    stream = sdk.chat.completions.create(model="smollm2-135m", messages=USER, stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_sdk_tool_call_round_trip(sdk: openai.OpenAI, fake_openai: Any) -> None:
    fake_openai.script.push(Reply(tool_calls=[ToolCallSpec("get_weather", {"city": "Oslo"}, id="call_w")]))
    completion = sdk.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=USER,
        tools=[WEATHER_TOOL],
        tool_choice="required",  # type: ignore[list-item,arg-type]
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    sent = fake_openai.script.last_request
    assert sent["tools"] == [WEATHER_TOOL] and sent["tool_choice"] == "required"


def test_sdk_streamed_tool_call_arrives_in_fragments_that_join(
    sdk: openai.OpenAI, fake_anthropic: Any
) -> None:
    fake_anthropic.script.push(Reply(tool_calls=[ToolCallSpec("get_weather", {"city": "Rome"}, id="tu_1")]))
    stream = sdk.chat.completions.create(
        model="anthropic/claude-sonnet-4-6",
        messages=USER,
        tools=[WEATHER_TOOL],
        stream=True,  # type: ignore[list-item,arg-type]
    )
    arguments, name = "", None
    for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = delta.function.name or name  # type: ignore[union-attr]
            arguments += delta.function.arguments or ""  # type: ignore[union-attr]
    assert name == "get_weather" and json.loads(arguments) == {"city": "Rome"}


def test_response_format_json_schema_reaches_llamacpp_in_its_grammar_form(
    sdk: openai.OpenAI, fake_local: Any
) -> None:
    fake_local.script.push(Reply(content='{"answer": 42}'))
    schema = {"name": "answer", "schema": {"type": "object", "properties": {"answer": {"type": "integer"}}}}
    completion = sdk.chat.completions.create(
        model="smollm2-135m",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": schema},  # type: ignore[arg-type,typeddict-item]
    )
    assert json.loads(completion.choices[0].message.content or "") == {"answer": 42}
    # llama-cpp-python takes the schema as {"type": "json_object", "schema": ...} and builds a grammar from it.
    assert fake_local.script.last_request["response_format"] == {
        "type": "json_object",
        "schema": schema["schema"],
    }


def test_response_format_json_schema_is_passed_unchanged_to_openai(
    sdk: openai.OpenAI, fake_openai: Any
) -> None:
    schema = {"name": "answer", "schema": {"type": "object"}, "strict": True}
    sdk.chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": schema},  # type: ignore[arg-type,typeddict-item]
    )
    assert fake_openai.script.last_request["response_format"] == {
        "type": "json_schema",
        "json_schema": schema,
    }


def test_sdk_sees_openai_error_shape_for_unknown_model(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(model="no-such-model", messages=USER)  # type: ignore[arg-type]
    assert info.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert "/v1/models" in info.value.body["message"]  # type: ignore[index]


def test_sdk_gets_429_with_retry_after_when_the_quota_is_used_up(
    live_gateway_factory: Any, wired: dict[str, Any]
) -> None:
    only_groq = {**wired, "openai_api_key": "", "anthropic_api_key": "", "llm_routing_strategy": "cloud-only"}
    url = live_gateway_factory(**only_groq, provider_daily_quotas={"groq": 1})
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-local", max_retries=0)
    client.chat.completions.create(model="groq/llama-3.3-70b-versatile", messages=USER)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="groq/llama-3.3-70b-versatile", messages=USER)  # type: ignore[arg-type]
    assert int(info.value.response.headers["retry-after"]) > 0
    assert info.value.body["type"] == "rate_limit_error"  # type: ignore[index]


def test_v1_models_lists_local_cloud_and_embedding_models(sdk: openai.OpenAI) -> None:
    ids = {model.id for model in sdk.models.list()}
    assert {
        "smollm2-135m",
        "groq/llama-3.3-70b-versatile",
        "anthropic/claude-sonnet-4-6",
        "all-MiniLM-L6-v2",
    } <= ids
    assert not any(i.startswith("gemini/") for i in ids)  # no key, not listed


async def test_litellm_as_a_client_talks_to_the_gateway(
    live_gateway_factory: Any, wired: dict[str, Any], fake_local: Any
) -> None:
    import litellm

    url = live_gateway_factory(**wired)
    fake_local.script.push(Reply(content="litellm client ok"))
    response = await litellm.acompletion(
        model="openai/smollm2-135m", api_base=f"{url}/v1", api_key="sk-local", messages=USER, timeout=30
    )
    assert response.choices[0].message.content == "litellm client ok"


async def test_discover_reports_subscription_providers_disabled_with_the_reason(
    gateway_factory: Any, wired: dict[str, Any]
) -> None:
    gateway = await gateway_factory(**wired)
    providers = {p["slug"]: p for p in (await gateway.client.get("/v1/models/discover")).json()}
    assert providers["claude-max"]["available"] is False
    assert "CLAUDE_CODE_OAUTH_TOKEN" in providers["claude-max"]["reason"]
    assert providers["chatgpt"]["available"] is False
    assert "codex login" in providers["chatgpt"]["reason"]
    assert providers["groq"]["available"] is True and providers["groq"]["daily_quota"] == 14_400
    assert providers["local"]["available"] is True
    assert [m["id"] for m in providers["local"]["models"]] == ["smollm2-135m"]


async def test_claude_max_is_enabled_by_the_credentials_file_and_sends_the_oauth_token(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_anthropic: Any,
    tmp_path: Any,
    service_headers: dict[str, str],
) -> None:
    credentials = tmp_path / ".claude" / ".credentials.json"
    credentials.parent.mkdir()
    credentials.write_text(json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-test-token"}}))
    gateway = await gateway_factory(**wired, claude_max_base_url=fake_anthropic.url)
    fake_anthropic.script.push(Reply(content="via subscription"))
    response = await gateway.client.post(
        "/complete", json={"messages": USER, "model": "claude-max/claude-sonnet-4-6"}, headers=service_headers
    )
    assert response.json()["content"] == "via subscription"
    assert response.json()["cost_usd"] == 0.0
    assert fake_anthropic.script.headers[-1].get("authorization") == "Bearer sk-ant-oat01-test-token"


async def test_health_providers_needs_a_credential_and_provider_test_reports_latency(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    assert (await gateway.client.get("/health/providers")).status_code == 401
    listing = await gateway.client.get("/health/providers", headers=service_headers)
    assert listing.status_code == 200
    assert {p["slug"] for p in listing.json()} >= {"local", "groq", "anthropic", "claude-max"}
    result = (await gateway.client.post("/health/providers/groq/test", headers=service_headers)).json()
    assert result["ok"] is True and result["latency_ms"] >= 0
    assert result["model"] == "groq/llama-3.3-70b-versatile"
    fake_openai.script.push(Reply(status=500, error="down"))
    failing = (await gateway.client.post("/health/providers/groq/test", headers=service_headers)).json()
    assert failing["ok"] is False and "down" in failing["detail"]
    disabled = (await gateway.client.post("/health/providers/gemini/test", headers=service_headers)).json()
    assert disabled["ok"] is False and "GEMINI_API_KEY" in disabled["detail"]
    unknown = await gateway.client.post("/health/providers/nope/test", headers=service_headers)
    assert unknown.status_code == 404


async def test_inference_stats_and_inflight_report_the_local_backend(
    gateway_factory: Any, wired: dict[str, Any], service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    await gateway.client.post("/complete", json={"messages": USER}, headers=service_headers)
    stats = (await gateway.client.get("/v1/inference/stats")).json()
    assert stats["requests"] == 1 and stats["errors"] == 0
    assert stats["backend"] == "llamacpp"
    assert stats["avg_latency_ms"] is not None
    assert (await gateway.client.get("/health/inflight")).json() == {"local_inflight": 0}


# ── /v1 with REQUIRE_AUTH: keys validated by the orchestrator ─────────────────────────────────────────


class FakeOrchestratorKeys:
    """Answers `/api/v1/keys/validate` as the orchestrator does (200 with `valid=false` for an unknown key).
    Key validation and limits against the real orchestrator are in tests/test_credentials_stack.py."""

    def __init__(self, valid: dict[str, dict[str, Any]]) -> None:
        self.valid = valid
        self.calls = 0
        self.app = Starlette(routes=[Route("/api/v1/keys/validate", self.validate)])

    async def validate(self, request: Request) -> Response:
        self.calls += 1
        if request.headers.get("x-service-token") != "test-service-token-0123456789":
            return JSONResponse({"detail": "no"}, status_code=401)
        record = self.valid.get(request.query_params["key_hash"])
        return JSONResponse(record or {"valid": False})


async def test_v1_usage_record_carries_the_api_key_id(
    gateway_factory: Any, wired: dict[str, Any], usage_records: Any
) -> None:
    from nova_common.auth import hash_api_key

    key = "sk-nova-usage-key-abcdefghijklmnop"
    key_id = "0b8f9b0e-9d1e-4c55-a1f0-5a2c6f9e7d11"
    orchestrator = FakeOrchestratorKeys(
        {hash_api_key(key): {"valid": True, "key_id": key_id, "rate_limit_rpm": 100}}
    )
    with serve_in_thread(orchestrator.app) as live:
        gateway = await gateway_factory(**wired, require_auth=True, orchestrator_url=live.url)
        await gateway.client.post(
            "/v1/chat/completions",
            json={"model": "smollm2-135m", "messages": USER},
            headers={"Authorization": f"Bearer {key}"},
        )
    records = await usage_records(gateway)
    assert records[-1]["api_key_id"] == key_id
