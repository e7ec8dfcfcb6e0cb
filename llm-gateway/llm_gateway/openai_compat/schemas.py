"""Pydantic models of the OpenAI endpoints the gateway serves, and the parameters it passes upstream.

Only listed parameters are accepted. A request field the gateway does not know is refused (400), never
passed through: LiteLLM reads its keyword arguments as call options, so a body field such as `base_url`,
`api_base` or `extra_headers` would redirect the call, with the stored provider key, wherever the caller
says. `FORWARDED_CHAT_PARAMETERS` is also what the transports filter on, so nothing else reaches a provider
even if a route forgot to validate.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nova_contracts.llm import (
    MAX_EMBED_DIMENSIONS,
    MAX_EMBED_TEXT_CHARS,
    MAX_EMBED_TEXTS,
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

MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOptions(_Strict):
    include_usage: bool = False


class OpenAIChatRequest(_Strict):
    """`POST /v1/chat/completions`: OpenAI's chat parameters the gateway understands; anything else is refused.

    `metadata` is Nova's own: flat usage tags (`agent_id`, `task_id`), recorded and never sent upstream.
    """

    model: Identifier
    messages: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_MESSAGES)]
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
            dict[Annotated[str, Field(max_length=20)], Annotated[float, Field(ge=-100, le=100)]],
            Field(max_length=300),
        ]
        | None
    ) = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    user: Annotated[str, Field(max_length=256)] | None = None
    tools: Annotated[list[dict[str, Any]], Field(max_length=MAX_TOOLS)] | None = None
    tool_choice: (
        Literal["none", "auto", "required"] | Annotated[dict[str, Any], Field(max_length=10)] | None
    ) = None
    parallel_tool_calls: bool | None = None
    response_format: Annotated[dict[str, Any], Field(max_length=10)] | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    metadata: CallMetadata | None = None

    @field_validator("messages")
    @classmethod
    def _messages_have_a_role(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Providers answer a message without a known role with a 400 or an exception; refuse it here.
        for index, message in enumerate(messages):
            if message.get("role") not in MESSAGE_ROLES:
                raise ValueError(f"messages[{index}].role must be one of {', '.join(sorted(MESSAGE_ROLES))}")
        return messages

    @field_validator("tools")
    @classmethod
    def _tools_are_functions(cls, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for index, tool in enumerate(tools or []):
            function = tool.get("function")
            if tool.get("type") != "function" or not isinstance(function, dict):
                raise ValueError(f'tools[{index}] must be {{"type": "function", "function": {{...}}}}')
            if not isinstance(function.get("name"), str) or not function["name"]:
                raise ValueError(f"tools[{index}].function.name is required")
        return tools


# What a chat call sends upstream: every accepted parameter except the ones the gateway itself decides or
# consumes (`model` is routed, `stream` and `stream_options` are set per transport, `metadata` is Nova's).
FORWARDED_CHAT_PARAMETERS: frozenset[str] = frozenset(OpenAIChatRequest.model_fields) - {
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
