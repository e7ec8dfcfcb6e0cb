"""The OpenAI chat-completions wire format, as IDE assistants (Continue, Aider, Cursor) send and expect it.

Lenient on input: these clients send many fields Nova has no use for (top_p, stream_options, tools of
their own…), and refusing them would break the client.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NOVA_MODEL_ID = "nova"


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class CompatChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = NOVA_MODEL_ID
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    user: str | None = Field(default=None, max_length=128)


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "nova"


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenAIChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class OpenAIChoice(BaseModel):
    index: int = 0
    message: OpenAIChoiceMessage
    finish_reason: str = "stop"


class OpenAIChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[OpenAIChoice]
    usage: OpenAIUsage
