from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from nova_contracts.llm import (
    MAX_EMBED_TEXTS,
    MAX_MESSAGE_CHARS,
    CompleteRequest,
    CompleteResponse,
    ContentBlock,
    EmbedRequest,
    EmbedResponse,
    FinishReason,
    GatewayConfig,
    GatewayConfigUpdate,
    InferenceBackend,
    InferenceState,
    InferenceStats,
    InflightReport,
    Message,
    ModelCapability,
    ModelInfo,
    NamedToolChoice,
    ProviderModel,
    ProviderStatus,
    ProviderTestResult,
    ProviderType,
    ResponseFormat,
    RoutingStrategy,
    StreamChunk,
    ToolCall,
    ToolCallRef,
    ToolDefinition,
    UsageRecord,
    extract_text_content,
)

USER_HI = {"role": "user", "content": "hi"}


def complete(**fields: Any) -> dict[str, Any]:
    return {"messages": [USER_HI], **fields}


FULL_REQUEST = CompleteRequest(
    model="anthropic/claude-sonnet-4-6",
    messages=[
        Message(role="system", content="Be brief."),
        Message(
            role="user",
            content=[
                ContentBlock(type="text", text="What is in this picture?"),
                ContentBlock(type="image_url", image_url={"url": "data:image/png;base64,iVBORw0KGgo="}),
            ],
        ),
        Message(
            role="assistant",
            tool_calls=[ToolCallRef(id="call_1", name="search_memory", arguments={"query": "cats"})],
        ),
        Message(role="tool", tool_call_id="call_1", content='{"hits": []}'),
    ],
    tools=[ToolDefinition(name="search_memory", description="Search memory", parameters={"type": "object"})],
    tool_choice=NamedToolChoice(name="search_memory"),
    temperature=0.0,
    max_tokens=1024,
    response_format=ResponseFormat(
        type="json_schema", json_schema={"name": "answer", "schema": {"type": "object"}}
    ),
    metadata={"agent_id": "a1", "task_id": "t1", "api_key_id": None, "attempt": 2},
    tier="best",
    task_type="planning",
)


@pytest.mark.parametrize(
    "instance",
    [
        FULL_REQUEST,
        CompleteRequest(messages=[Message(role="user", content="hi")]),
        CompleteResponse(
            content="",
            model="gpt-4o-mini",
            provider="openai",
            tool_calls=[ToolCall(id="call_1", name="search_memory", arguments={"query": "cats"})],
            input_tokens=12,
            output_tokens=3,
            cost_usd=0.00001,
            finish_reason=FinishReason.TOOL_CALLS,
            cached=True,
            latency_ms=420,
        ),
        StreamChunk(delta="Hel"),
        StreamChunk(
            finish_reason=FinishReason.STOP, input_tokens=5, output_tokens=7, cost_usd=0.0, model="m"
        ),
        StreamChunk(error="upstream closed the connection"),
        EmbedRequest(texts=["a", "b"], dimensions=768),
        EmbedResponse(embeddings=[[0.1, 0.2], [0.3, 0.4]], model="nomic", dimensions=2, input_tokens=4),
        ModelInfo(
            id="gpt-4o",
            provider="openai",
            capabilities=[ModelCapability.CHAT, ModelCapability.VISION],
            context_window=128_000,
            max_output_tokens=16_384,
            cost_per_input_token=2.5e-6,
        ),
        UsageRecord(provider="ollama", model="llama3", latency_ms=900, ttft_ms=120, agent_id="a1"),
        UsageRecord(provider="openai", model="text-embedding-3-small", latency_ms=80, kind="embedding"),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_llm_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


@pytest.mark.parametrize(
    ("model", "payload", "loc"),
    [
        pytest.param(CompleteRequest, complete(temprature=0.5), ("temprature",), id="unknown-field"),
        pytest.param(CompleteRequest, complete(stream=True), ("stream",), id="stream-is-an-endpoint"),
        pytest.param(CompleteRequest, complete(temperature=2.1), ("temperature",), id="temperature-high"),
        pytest.param(CompleteRequest, complete(temperature=-0.1), ("temperature",), id="temperature-low"),
        pytest.param(CompleteRequest, complete(max_tokens=0), ("max_tokens",), id="max-tokens-zero"),
        pytest.param(CompleteRequest, complete(max_tokens=200_001), ("max_tokens",), id="max-tokens-high"),
        pytest.param(CompleteRequest, {"messages": []}, ("messages",), id="no-messages"),
        pytest.param(CompleteRequest, {"messages": [USER_HI] * 1001}, ("messages",), id="too-many-messages"),
        pytest.param(
            CompleteRequest,
            {"messages": [{"role": "robot", "content": "x"}]},
            ("messages", 0, "role"),
            id="wrong-role",
        ),
        pytest.param(
            CompleteRequest,
            {"messages": [{"role": "user", "content": "x" * (MAX_MESSAGE_CHARS + 1)}]},
            ("messages", 0, "content"),
            id="content-too-long",
        ),
        pytest.param(
            CompleteRequest,
            {"messages": [{"role": "user", "content": [{"type": "audio", "text": "x"}]}]},
            ("messages", 0, "content"),
            id="wrong-block-type",
        ),
        pytest.param(
            CompleteRequest,
            {"messages": [{"role": "user", "content": [{"type": "image_url", "text": "no url"}]}]},
            ("messages", 0, "content"),
            id="image-block-without-url",
        ),
        pytest.param(
            CompleteRequest,
            {"messages": [{"role": "tool", "content": "42"}]},
            ("messages", 0),
            id="tool-message-without-call-id",
        ),
        pytest.param(CompleteRequest, complete(tier="premium"), ("tier",), id="wrong-tier"),
        pytest.param(
            CompleteRequest,
            complete(metadata={"agent_id": {"nested": 1}}),
            ("metadata", "agent_id"),
            id="nested",
        ),
        pytest.param(
            CompleteRequest,
            complete(metadata={f"k{i}": i for i in range(51)}),
            ("metadata",),
            id="metadata-big",
        ),
        pytest.param(
            CompleteRequest, complete(tools=[{"name": "my tool"}]), ("tools", 0, "name"), id="tool-name"
        ),
        pytest.param(
            CompleteRequest, complete(tool_choice="required"), ("tool_choice",), id="required-no-tools"
        ),
        pytest.param(
            CompleteRequest,
            complete(tools=[{"name": "a"}], tool_choice={"name": "b"}),
            ("tool_choice",),
            id="choice-names-unknown-tool",
        ),
        pytest.param(
            CompleteRequest,
            complete(response_format={"type": "json_schema"}),
            ("response_format",),
            id="json-schema-missing",
        ),
        pytest.param(
            CompleteRequest,
            complete(response_format={"type": "yaml"}),
            ("response_format", "type"),
            id="format",
        ),
        pytest.param(EmbedRequest, {"texts": []}, ("texts",), id="embed-no-texts"),
        pytest.param(EmbedRequest, {"texts": ["a"] * (MAX_EMBED_TEXTS + 1)}, ("texts",), id="embed-too-many"),
        pytest.param(EmbedRequest, {"texts": [""]}, ("texts", 0), id="embed-empty-text"),
        pytest.param(EmbedRequest, {"texts": ["x" * 100_001]}, ("texts", 0), id="embed-text-too-long"),
        pytest.param(EmbedRequest, {"texts": ["a"], "dimensions": 0}, ("dimensions",), id="embed-dimensions"),
        pytest.param(EmbedRequest, {"texts": ["a"], "input": ["b"]}, ("input",), id="embed-unknown-field"),
        pytest.param(
            CompleteResponse,
            {"model": "m", "input_tokens": 1, "output_tokens": 1, "finish_reason": "exploded"},
            ("finish_reason",),
            id="wrong-finish-reason",
        ),
        pytest.param(
            CompleteResponse,
            {"model": "m", "input_tokens": -1, "output_tokens": 1, "finish_reason": "stop"},
            ("input_tokens",),
            id="negative-tokens",
        ),
        pytest.param(StreamChunk, {"cost_usd": -0.01}, ("cost_usd",), id="negative-cost"),
        pytest.param(
            ModelInfo,
            {
                "id": "m",
                "provider": "p",
                "capabilities": ["telepathy"],
                "context_window": 1,
                "max_output_tokens": 1,
            },
            ("capabilities", 0),
            id="wrong-capability",
        ),
        pytest.param(
            UsageRecord,
            {"provider": "p", "model": "m", "latency_ms": 1, "kind": "image"},
            ("kind",),
            id="wrong-usage-kind",
        ),
    ],
)
def test_llm_request_rejects_malformed_input_at_the_offending_field(
    first_error_loc: Any, model: type[BaseModel], payload: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert first_error_loc(model, payload)[: len(loc)] == loc


def test_complete_request_leaves_model_choice_to_the_gateway_by_default() -> None:
    request = CompleteRequest.model_validate({"messages": [USER_HI]})

    assert request.model is None
    assert request.temperature == 0.7
    assert request.tools == [] and request.metadata == {}


def test_complete_response_ignores_fields_added_by_a_newer_gateway() -> None:
    payload = '{"model": "m", "input_tokens": 1, "output_tokens": 2, "finish_reason": "stop", "new": 1}'

    assert CompleteResponse.model_validate_json(payload).output_tokens == 2


def test_embed_response_rejects_vectors_of_the_wrong_dimension() -> None:
    with pytest.raises(ValidationError, match="every embedding must have 3 dimensions"):
        EmbedResponse(embeddings=[[0.1, 0.2, 0.3], [0.1]], model="m", dimensions=3, input_tokens=1)


@pytest.mark.parametrize(
    ("chunk", "is_last"),
    [
        (StreamChunk(delta="Hel"), False),
        (StreamChunk(finish_reason=FinishReason.LENGTH), True),
        (StreamChunk(error="provider timed out"), True),
    ],
)
def test_stream_chunk_marks_the_end_of_a_stream(chunk: StreamChunk, is_last: bool) -> None:
    assert chunk.is_last is is_last


def test_tool_call_becomes_the_reference_a_follow_up_request_sends() -> None:
    call = ToolCall(id="call_9", name="run_code", arguments={"code": "1+1"})

    assert call.as_ref() == ToolCallRef(id="call_9", name="run_code", arguments={"code": "1+1"})


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("plain", "plain"),
        (None, ""),
        ([], ""),
        (
            [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "u"}}, {"text": "b"}],
            "a b",
        ),
        ([ContentBlock(type="text", text="one"), ContentBlock(type="text", text="two")], "one two"),
    ],
)
def test_extract_text_content_joins_text_blocks_with_spaces(content: Any, text: str) -> None:
    assert extract_text_content(content) == text


def test_message_text_reads_multimodal_content() -> None:
    message = Message.model_validate(
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "u"}}],
        }
    )

    assert message.text == "look"


# ── gateway configuration and status models ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "instance",
    [
        ProviderStatus(
            slug="groq",
            name="Groq",
            type=ProviderType.FREE,
            available=True,
            auth_methods=["GROQ_API_KEY"],
            daily_quota=14_400,
            models=[ProviderModel(id="groq/llama-3.3-70b-versatile")],
        ),
        ProviderStatus(
            slug="claude-max",
            name="Claude",
            type=ProviderType.SUBSCRIPTION,
            available=False,
            reason="no token",
        ),
        ProviderTestResult(slug="local", ok=True, model="smollm2-135m", latency_ms=84),
        InferenceStats(
            backend=InferenceBackend.LLAMACPP, window_seconds=300, requests=3, errors=0, inflight=1
        ),
        InflightReport(local_inflight=2),
        GatewayConfig(
            routing_strategy=RoutingStrategy.LOCAL_FIRST,
            default_embed_model="all-MiniLM-L6-v2",
            inference_backend=InferenceBackend.OLLAMA,
            inference_state=InferenceState.DRAINING,
            inference_url="http://ollama:11434",
        ),
        GatewayConfigUpdate(routing_strategy=RoutingStrategy.CLOUD_ONLY),
    ],
    ids=lambda instance: type(instance).__name__,
)
def test_gateway_model_survives_json_round_trip(instance: BaseModel) -> None:
    assert type(instance).model_validate_json(instance.model_dump_json()) == instance


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        pytest.param({}, (), id="nothing-to-change"),
        pytest.param({"routing_strategy": "cheapest"}, ("routing_strategy",), id="unknown-strategy"),
        pytest.param({"inference_backend": "tgi"}, ("inference_backend",), id="unknown-backend"),
        pytest.param({"inference_url": "ftp://x"}, ("inference_url",), id="url-not-http"),
        pytest.param({"routing_strategy": "local-only", "colour": "x"}, ("colour",), id="unknown-field"),
    ],
)
def test_gateway_config_update_rejects(
    payload: dict[str, Any], loc: tuple[Any, ...], first_error_loc: Any
) -> None:
    assert first_error_loc(GatewayConfigUpdate, payload) == loc
