"""Pydantic models of the OpenAI endpoints the gateway serves, and the parameters it passes upstream.

Only listed parameters are accepted. A request field the gateway does not know is refused (400), never
passed through: LiteLLM reads its keyword arguments as call options, so a body field such as `base_url`,
`api_base` or `extra_headers` would redirect the call, with the stored provider key, wherever the caller
says. `FORWARDED_CHAT_PARAMETERS` is also what the transports filter on, so nothing else reaches a provider
even if a route forgot to validate.
"""

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nova_contracts.llm import (
    MAX_CONTENT_BLOCKS,
    MAX_EMBED_DIMENSIONS,
    MAX_EMBED_TEXT_CHARS,
    MAX_EMBED_TEXTS,
    MAX_IMAGE_URL_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_MESSAGES,
    MAX_OUTPUT_TOKENS,
    MAX_TOOLS,
    CallMetadata,
    Identifier,
)

# Fields that choose or authenticate the upstream call. They are refused with a message saying why, as a
# hint to the caller that the gateway, not the request, decides where a call goes and with which key.
UPSTREAM_CONTROL_FIELDS = frozenset(
    {
        "api_base",
        "api_key",
        "api_type",
        "api_version",
        "base_url",
        "custom_llm_provider",
        "deployment_id",
        "extra_body",
        "extra_headers",
        "extra_query",
        "headers",
        "litellm_params",
        "max_retries",
        "num_retries",
        "organization",
        "project",
        "timeout",
    }
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """A nested OpenAI object: its known fields are checked, newer ones pass (they cannot redirect a call)."""

    model_config = ConfigDict(extra="allow")


FunctionName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
JsonObject = Annotated[dict[str, Any], Field(max_length=100)]


class ImageUrl(_Open):
    url: Annotated[str, Field(min_length=1, max_length=MAX_IMAGE_URL_CHARS)]


class ContentPart(_Open):
    type: Literal["text", "image_url", "input_audio", "file", "refusal"]
    text: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)] | None = None
    image_url: ImageUrl | None = None

    @model_validator(mode="after")
    def _payload_matches_type(self) -> Self:
        if self.type == "text" and self.text is None:
            raise ValueError("a text part carries `text`")
        if self.type == "image_url" and self.image_url is None:
            raise ValueError('an image_url part carries `image_url={"url": ...}`')
        return self


class FunctionCall(_Open):
    name: FunctionName
    arguments: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)] = ""


class MessageToolCall(_Open):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: (
        Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
        | Annotated[list[ContentPart], Field(max_length=MAX_CONTENT_BLOCKS)]
        | None
    ) = None
    name: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tool_calls: Annotated[list[MessageToolCall], Field(max_length=MAX_TOOLS)] | None = None
    tool_call_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _fields_match_role(self) -> Self:
        # Every provider rejects these; refusing them here keeps them from failing a whole fallback chain.
        if self.role == "tool" and self.tool_call_id is None:
            raise ValueError("a tool message needs the `tool_call_id` it answers")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry `tool_calls`")
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError("`content` is required, except in an assistant message with `tool_calls`")
        return self


class FunctionDefinition(_Open):
    name: FunctionName
    description: Annotated[str, Field(max_length=10_000)] | None = None
    parameters: JsonObject | None = None
    strict: bool | None = None


class OpenAIToolDefinition(_Open):
    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(_Open):
    name: FunctionName


class OpenAINamedToolChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


class JsonSchemaFormat(_Open):
    name: Annotated[str, Field(min_length=1, max_length=64)] = "response"
    schema_: JsonObject | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None


class OpenAIResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_only_for_json_schema(self) -> Self:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("`json_schema` is required for type json_schema and refused otherwise")
        return self


class StreamOptions(_Strict):
    include_usage: bool = False


class OpenAIChatCompletionRequest(_Strict):
    """`POST /v1/chat/completions`: OpenAI's chat parameters the gateway understands; anything else is refused.

    `metadata` is Nova's own: flat usage tags (`agent_id`, `task_id`), recorded and never sent upstream.
    """

    model: Identifier
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    n: int | None = Field(default=None, ge=1, le=16)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    stop: (
        Annotated[str, Field(max_length=1000)]
        | Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=4)]
        | None
    ) = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    logit_bias: (
        Annotated[
            dict[Annotated[str, Field(pattern=r"^[0-9]{1,10}$")], Annotated[float, Field(ge=-100, le=100)]],
            Field(max_length=300),
        ]
        | None
    ) = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    user: Annotated[str, Field(max_length=256)] | None = None
    tools: Annotated[list[OpenAIToolDefinition], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: Literal["none", "auto", "required"] | OpenAINamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: OpenAIResponseFormat | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    metadata: CallMetadata | None = None

    @model_validator(mode="after")
    def _tool_choice_names_a_tool(self) -> Self:
        names = {tool.function.name for tool in self.tools or []}
        if self.tool_choice == "required" and not names:
            raise ValueError("tool_choice 'required' needs at least one tool")
        if (
            isinstance(self.tool_choice, OpenAINamedToolChoice)
            and self.tool_choice.function.name not in names
        ):
            raise ValueError(
                f"tool_choice names {self.tool_choice.function.name!r}, which is not among `tools`"
            )
        return self

    def upstream_body(self) -> dict[str, Any]:
        """The allow-listed parameters as sent upstream; explicit nulls inside messages are kept."""
        body = self.model_dump(include=set(FORWARDED_CHAT_PARAMETERS), exclude_unset=True, by_alias=True)
        return {key: value for key, value in body.items() if value is not None}


# What a chat call sends upstream: every accepted parameter except the ones the gateway itself decides or
# consumes (`model` is routed, `stream` and `stream_options` are set per transport, `metadata` is Nova's).
FORWARDED_CHAT_PARAMETERS: frozenset[str] = frozenset(OpenAIChatCompletionRequest.model_fields) - {
    "model",
    "stream",
    "stream_options",
    "metadata",
}


class OpenAIEmbeddingRequest(_Strict):
    """`POST /v1/embeddings`; `metadata` is Nova's usage tags, as in chat."""

    model: Identifier
    input: (
        Annotated[str, Field(min_length=1, max_length=MAX_EMBED_TEXT_CHARS)]
        | Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_EMBED_TEXT_CHARS)]],
            Field(min_length=1, max_length=MAX_EMBED_TEXTS),
        ]
        | Annotated[list[int], Field(max_length=MAX_EMBED_TEXTS)]
        | Annotated[list[Annotated[list[int], Field(max_length=8192)]], Field(max_length=MAX_EMBED_TEXTS)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=MAX_EMBED_DIMENSIONS)
    user: Annotated[str, Field(max_length=256)] | None = None
    metadata: CallMetadata | None = None
