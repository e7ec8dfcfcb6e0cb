"""Pydantic models of the OpenAI endpoints the gateway serves."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from nova_contracts.llm import MAX_EMBED_TEXT_CHARS, MAX_EMBED_TEXTS, MAX_MESSAGES


class OpenAIEmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1, max_length=128)]
    input: (
        Annotated[str, Field(min_length=1, max_length=MAX_EMBED_TEXT_CHARS)]
        | Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_EMBED_TEXT_CHARS)]],
            Field(min_length=1, max_length=MAX_EMBED_TEXTS),
        ]
        | list[int]
        | list[list[int]]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1, le=8192)
    user: str | None = None


class OpenAIChatRequest(BaseModel):
    """`POST /v1/chat/completions`. Only the fields the gateway acts on are typed; the rest pass through."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1, max_length=128)]
    messages: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None
