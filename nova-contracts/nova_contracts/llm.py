"""LLM gateway contract: `/complete`, `/stream` (SSE of `StreamChunk`), `/embed`, `/models`, usage records."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID, uuid4

from pydantic import Field, ValidationInfo, field_validator, model_validator

from nova_contracts.base import Identifier, MetadataKey, RequestModel, ResponseModel, ShortText, utc_now
from nova_contracts.cortex import BudgetTier

MAX_MESSAGES = 1000
MAX_MESSAGE_CHARS = 1_000_000
MAX_CONTENT_BLOCKS = 100
# OpenAI refuses more than 128 tools in one request; the other providers allow at least as many.
MAX_TOOLS = 128
MAX_OUTPUT_TOKENS = 200_000
# OpenAI's embeddings endpoint takes at most 2048 inputs per call; the gateway does not split batches.
MAX_EMBED_TEXTS = 2048
MAX_EMBED_TEXT_CHARS = 100_000
MAX_EMBED_DIMENSIONS = 8192
# A data: URL of a ~14 MB image, above every provider's own image size limit.
MAX_IMAGE_URL_CHARS = 20_000_000

# The tool-name rule OpenAI and Anthropic both enforce, so a bad name is a 422 here, not a provider 400.
ToolName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ToolCallId = Annotated[str, Field(min_length=1, max_length=200)]
ToolArguments = Annotated[dict[str, Any], Field(max_length=200)]
MessageText = Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
Tier = Literal["best", "mid", "cheap"]

CALLER_HEADER = "X-Nova-Caller"
"""Header a service sends to say on whose behalf it calls the gateway; honoured only with the service token."""
CORTEX_CALLER = "cortex"
"""`X-Nova-Caller: cortex`: the call is cortex's own, so the gateway holds it to cortex's published budget tier
(`nova_contracts.cortex.BUDGET_TIER_CONFIG_KEY`): best allows any model, mid mid or cheap ones, cheap only cheap
ones, none only the local model (anything else is a 429 with Retry-After until UTC midnight)."""

# Flat values only: these tags (agent_id, task_id, api_key_id, ...) end up as usage-record columns.
CallMetadata = Annotated[
    dict[MetadataKey, Annotated[str, Field(max_length=1000)] | int | float | bool | None],
    Field(max_length=50),
]


class ModelCapability(StrEnum):
    CHAT = "chat"
    STREAMING = "streaming"
    FUNCTION_CALLING = "function_calling"
    VISION = "vision"
    EMBEDDINGS = "embeddings"
    STRUCTURED_OUTPUT = "structured_output"


class FinishReason(StrEnum):
    """Why generation stopped, normalised by the gateway from each provider's own vocabulary."""

    STOP = "stop"
    TOOL_CALLS = "tool_calls"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"


class ToolCallRef(RequestModel):
    """A tool call the assistant made earlier, sent back to the model inside an assistant message."""

    id: ToolCallId
    name: ToolName
    arguments: ToolArguments = Field(default_factory=dict)


class ToolCall(ResponseModel):
    """A tool call the model asks for; `arguments` is already parsed from the provider's JSON string."""

    id: ToolCallId
    name: ToolName
    arguments: ToolArguments = Field(default_factory=dict)

    def as_ref(self) -> ToolCallRef:
        """The same call in the shape a follow-up request carries it."""
        return ToolCallRef(id=self.id, name=self.name, arguments=self.arguments)


class ContentBlock(RequestModel):
    """One part of a multimodal message: a text block has `text`, an image block `image_url={"url": ...}`."""

    type: Literal["text", "image_url"]
    text: MessageText | None = None
    image_url: (
        Annotated[
            dict[Annotated[str, Field(max_length=20)], Annotated[str, Field(max_length=MAX_IMAGE_URL_CHARS)]],
            Field(max_length=4),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _payload_matches_type(self) -> Self:
        if self.type == "text" and (self.text is None or self.image_url is not None):
            raise ValueError("a text block carries `text` and no `image_url`")
        if self.type == "image_url" and (not self.image_url or "url" not in self.image_url or self.text):
            raise ValueError('an image_url block carries `image_url={"url": ...}` and no `text`')
        return self


class Message(RequestModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: MessageText | Annotated[list[ContentBlock], Field(max_length=MAX_CONTENT_BLOCKS)] = ""
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tool_call_id: ToolCallId | None = None
    tool_calls: Annotated[list[ToolCallRef], Field(max_length=MAX_TOOLS)] | None = None

    @model_validator(mode="after")
    def _tool_fields_match_role(self) -> Self:
        # Every provider rejects a tool result that does not name the call it answers.
        if self.role == "tool" and self.tool_call_id is None:
            raise ValueError("a tool message needs the `tool_call_id` it answers")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry `tool_calls`")
        return self

    @property
    def text(self) -> str:
        return extract_text_content(self.content)


class ToolDefinition(RequestModel):
    name: ToolName
    description: Annotated[str, Field(max_length=10_000)] = ""
    parameters: Annotated[dict[str, Any], Field(max_length=50)] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments object",
    )


class NamedToolChoice(RequestModel):
    """Force the model to call this one tool."""

    name: ToolName


class ResponseFormat(RequestModel):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: Annotated[dict[str, Any], Field(max_length=50)] | None = None

    @model_validator(mode="after")
    def _schema_only_for_json_schema(self) -> Self:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("`json_schema` is required for type json_schema and refused otherwise")
        return self


class CompleteRequest(RequestModel):
    """A chat completion; `model=None` lets the gateway pick by `tier` and `task_type`."""

    model: Identifier | None = None
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    tools: Annotated[list[ToolDefinition], Field(max_length=MAX_TOOLS)] = Field(default_factory=list)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    response_format: ResponseFormat | None = None
    metadata: CallMetadata = Field(default_factory=dict)
    tier: Tier | None = None
    task_type: Identifier | None = None

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice_names_a_tool(cls, choice: object, info: ValidationInfo) -> object:
        tools: list[ToolDefinition] = info.data.get("tools", [])
        if choice == "required" and not tools:
            raise ValueError("tool_choice 'required' needs at least one tool")
        if isinstance(choice, NamedToolChoice) and choice.name not in {t.name for t in tools}:
            raise ValueError(f"tool_choice names {choice.name!r}, which is not among `tools`")
        return choice


class CompleteResponse(ResponseModel):
    content: MessageText = ""
    model: str
    provider: str | None = None
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOLS)] = Field(default_factory=list)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    finish_reason: FinishReason
    cached: bool = False
    latency_ms: int | None = Field(default=None, ge=0)


class StreamChunk(ResponseModel):
    """One SSE `data:` line of `/stream`; the last chunk carries `finish_reason` and usage, or `error`."""

    delta: MessageText = ""
    tool_calls: Annotated[list[ToolCall], Field(max_length=MAX_TOOLS)] = Field(default_factory=list)
    finish_reason: FinishReason | None = None
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    model: str | None = None
    # Once the SSE response has started the status code is sent, so an upstream failure can only be
    # reported in-band, as a final chunk.
    error: Annotated[str, Field(max_length=10_000)] | None = None

    @property
    def is_last(self) -> bool:
        return self.finish_reason is not None or self.error is not None


class EmbedRequest(RequestModel):
    """Texts to embed; `model=None` uses the gateway's default embedding model. The documented single-text
    form `{"text": "..."}` is accepted as a list of one."""

    model: Identifier | None = None
    texts: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_EMBED_TEXT_CHARS)]],
        Field(min_length=1, max_length=MAX_EMBED_TEXTS),
    ]
    dimensions: int | None = Field(default=None, ge=1, le=MAX_EMBED_DIMENSIONS)

    @model_validator(mode="before")
    @classmethod
    def _single_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and "text" in data:
            if "texts" in data:
                raise ValueError("send `text` or `texts`, not both")
            data = {**data, "texts": [data["text"]]}
            del data["text"]
        return data


class EmbedResponse(ResponseModel):
    """One vector per input text, in input order."""

    embeddings: Annotated[
        list[Annotated[list[float], Field(max_length=MAX_EMBED_DIMENSIONS)]],
        Field(max_length=MAX_EMBED_TEXTS),
    ]
    model: str
    dimensions: int = Field(ge=1, le=MAX_EMBED_DIMENSIONS)
    input_tokens: int = Field(ge=0)
    cached_count: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _vectors_have_declared_dimensions(self) -> Self:
        if any(len(vector) != self.dimensions for vector in self.embeddings):
            raise ValueError(f"every embedding must have {self.dimensions} dimensions")
        if self.cached_count > len(self.embeddings):
            raise ValueError("cached_count exceeds the number of embeddings")
        return self


class ModelInfo(ResponseModel):
    id: str
    provider: str
    capabilities: list[ModelCapability] = Field(default_factory=list)
    context_window: int = Field(ge=1)
    max_output_tokens: int = Field(ge=1)
    cost_per_input_token: float | None = Field(default=None, ge=0)
    cost_per_output_token: float | None = Field(default=None, ge=0)


class UsageRecord(ResponseModel):
    """One provider call, as the gateway records it for cost and latency reporting."""

    id: UUID = Field(default_factory=uuid4)
    provider: ShortText
    model: ShortText
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    # None means "price unknown", which is not the same as a free local model's 0.0.
    cost_usd: float | None = Field(default=None, ge=0)
    latency_ms: int = Field(ge=0)
    ttft_ms: int | None = Field(default=None, ge=0)
    cache_hit: bool = False
    agent_id: str | None = None
    task_id: str | None = None
    api_key_id: str | None = None
    kind: Literal["completion", "embedding"] = "completion"
    created_at: datetime = Field(default_factory=utc_now)


def extract_text_content(content: str | Iterable[ContentBlock | Mapping[str, Any]] | None) -> str:
    """The plain text of a message's content: a string as is, or the text blocks joined by spaces.

    Accepts blocks as models or as raw dicts, because callers often hold messages still in JSON form.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        text = block.get("text") if isinstance(block, Mapping) else block.text
        if isinstance(text, str) and text:
            texts.append(text)
    return " ".join(texts)


# ── Model ids ─────────────────────────────────────────────────────────────────────────────────────

# Cloud providers the gateway routes `<slug>/<model>` ids to (its catalog; a gateway test keeps them equal).
CLOUD_MODEL_PROVIDERS: tuple[str, ...] = (
    "anthropic",
    "openai",
    "groq",
    "gemini",
    "cerebras",
    "openrouter",
    "github",
    "claude-max",
    "chatgpt",
    "custom",
)
# Prefixes of the local model slot: `local/<name>` and `ollama/<name>` mean the bare `<name>`.
LOCAL_MODEL_PREFIXES: tuple[str, ...] = ("local/", "ollama/")
# A cloud model id anyone may name before the provider is even configured: a known provider, then a model
# name of the characters providers use (`openrouter/meta-llama/llama-3.3-70b-instruct:free`).
CLOUD_MODEL_ID_PATTERN = r"^(?:" + "|".join(CLOUD_MODEL_PROVIDERS) + r")/[A-Za-z0-9][A-Za-z0-9._:/@-]{0,110}$"


# ── Gateway configuration and status (dashboard, recovery and the orchestrator read these) ──────────


class RoutingStrategy(StrEnum):
    """Where requests go: `local-*` prefer the local model slot, `cloud-*` the cloud providers."""

    LOCAL_ONLY = "local-only"
    LOCAL_FIRST = "local-first"
    CLOUD_ONLY = "cloud-only"
    CLOUD_FIRST = "cloud-first"


class InferenceBackend(StrEnum):
    """What serves the local model slot; `auto` probes the URL (Ollama's API, else OpenAI-compatible)."""

    AUTO = "auto"
    OLLAMA = "ollama"
    VLLM = "vllm"
    SGLANG = "sglang"
    LLAMACPP = "llamacpp"
    CUSTOM = "custom"
    NONE = "none"


class InferenceState(StrEnum):
    """Lifecycle of the local backend as recovery reports it; only `ready` receives traffic."""

    READY = "ready"
    STARTING = "starting"
    DRAINING = "draining"
    ERROR = "error"
    STOPPED = "stopped"


class ProviderType(StrEnum):
    LOCAL = "local"
    PAID = "paid"
    FREE = "free"
    SUBSCRIPTION = "subscription"


class ProviderModel(ResponseModel):
    id: str
    registered: bool = True


class ProviderStatus(ResponseModel):
    """One provider as `/v1/models/discover` and `/health/providers` report it."""

    slug: str
    name: str
    type: ProviderType
    available: bool
    reason: str | None = None
    auth_methods: list[str] = Field(default_factory=list)
    daily_quota: int | None = Field(default=None, ge=1)
    models: list[ProviderModel] = Field(default_factory=list)


class ProviderTestResult(ResponseModel):
    slug: str
    ok: bool
    model: str | None = None
    latency_ms: int | None = Field(default=None, ge=0)
    detail: str | None = None


class InferenceStats(ResponseModel):
    """Rolling figures for the local backend over `window_seconds`, kept per gateway process."""

    backend: InferenceBackend
    window_seconds: int = Field(ge=1)
    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    avg_latency_ms: float | None = None
    avg_ttft_ms: float | None = None
    avg_tokens_per_second: float | None = None
    inflight: int = Field(ge=0)
    cache_hits: int = Field(default=0, ge=0)
    cache_misses: int = Field(default=0, ge=0)


class InflightReport(ResponseModel):
    """Requests now running on the local backend; recovery polls this to drain before a switch."""

    local_inflight: int = Field(ge=0)


class ResolvedCandidate(ResponseModel):
    model: str
    provider: str
    local: bool = False


class ModelResolution(ResponseModel):
    """`GET /v1/models/resolve`: the model a request would get, the chain behind it, and why."""

    model: str = Field(description="the first model of the chain: the one that answers unless it fails")
    provider: str
    strategy: RoutingStrategy
    requested_model: str | None = None
    tier: Tier | None = Field(default=None, description="the tier that ordered the cloud models, if any")
    task_type: str | None = None
    budget_tier: BudgetTier | None = Field(
        default=None,
        description="cortex's budget tier applied to this request (only for X-Nova-Caller: cortex)",
    )
    reason: str
    candidates: list[ResolvedCandidate] = Field(description="the fallback chain, in the order it is tried")
    skipped: list[str] = Field(
        default_factory=list, description="candidates left out before any call, and why"
    )


class GatewayConfig(ResponseModel):
    """The gateway's effective runtime configuration (env defaults overlaid with Redis DB 1)."""

    routing_strategy: RoutingStrategy
    default_chat_model: str | None = None
    default_embed_model: str
    inference_backend: InferenceBackend
    inference_state: InferenceState
    inference_url: str
    inference_auth_configured: bool = False


class GatewayConfigUpdate(RequestModel):
    """Fields to change; each is written to `nova:config:<key>` in Redis DB 1 and read back within seconds."""

    routing_strategy: RoutingStrategy | None = None
    default_chat_model: Identifier | None = None
    inference_backend: InferenceBackend | None = None
    inference_state: InferenceState | None = None
    # Printable ASCII only: both end up in HTTP request lines and headers, which cannot carry anything else
    # (a non-ASCII host must be written in its IDNA form).
    inference_url: Annotated[str, Field(max_length=2000, pattern=r"^$|^https?://[\x21-\x7e]+$")] | None = None
    inference_auth_header: Annotated[str, Field(max_length=4000, pattern=r"^[\x20-\x7e]*$")] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self
