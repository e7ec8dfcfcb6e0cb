"""Chat contracts: the chat-api WebSocket frames and the dashboard's `/api/v1/chat/stream` SSE events.

Every WebSocket frame is a JSON object whose `type` picks the model: the client sends `auth`, `user` and
`ping`; the server answers with `system`, `queued`, `stream_chunk`, `stream_end`, `error` and `pong`.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from nova_contracts.base import Identifier, RequestModel, ResponseModel, ShortText

ChatText = Annotated[str, Field(min_length=1, max_length=32_000)]


class ChatMessageType(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    ERROR = "error"
    STREAM_CHUNK = "stream_chunk"
    STREAM_END = "stream_end"
    AUTH = "auth"
    QUEUED = "queued"
    PING = "ping"
    PONG = "pong"


# Client → server.


class UserFrame(RequestModel):
    """A user turn; without `session_id` the server continues the connection's session."""

    type: Literal["user"] = "user"
    content: ChatText
    session_id: Identifier | None = None


class AuthFrame(RequestModel):
    """The API key, sent as the first frame by clients that cannot put it in the URL."""

    type: Literal["auth"] = "auth"
    token: Annotated[str, Field(min_length=1, max_length=512, repr=False)]


class PingFrame(RequestModel):
    type: Literal["ping"] = "ping"


ClientFrame = Annotated[UserFrame | AuthFrame | PingFrame, Field(discriminator="type")]

# Server → client.


class SystemFrame(ResponseModel):
    """Sent once the connection is accepted, naming the session it belongs to."""

    type: Literal["system"] = "system"
    session_id: str


class QueuedFrame(ResponseModel):
    type: Literal["queued"] = "queued"
    session_id: str
    position: int | None = Field(default=None, ge=0)


class StreamChunkFrame(ResponseModel):
    type: Literal["stream_chunk"] = "stream_chunk"
    session_id: str
    delta: str


class StreamEndFrame(ResponseModel):
    type: Literal["stream_end"] = "stream_end"
    session_id: str
    message_id: str | None = None


class ErrorFrame(ResponseModel):
    type: Literal["error"] = "error"
    content: str
    code: str | None = None


class PongFrame(ResponseModel):
    type: Literal["pong"] = "pong"


ServerFrame = Annotated[
    SystemFrame | QueuedFrame | StreamChunkFrame | StreamEndFrame | ErrorFrame | PongFrame,
    Field(discriminator="type"),
]

_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
_server_frame: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


def parse_client_frame(raw: str | bytes) -> ClientFrame:
    """Parse one WebSocket text/binary message from a client; raises `pydantic.ValidationError`."""
    return _client_frame.validate_json(raw)


def parse_server_frame(raw: str | bytes) -> ServerFrame:
    """Parse one WebSocket message from the server (Python clients and end-to-end tests)."""
    return _server_frame.validate_json(raw)


class SessionInfo(ResponseModel):
    session_id: str
    agent_id: str | None = None
    created_at: datetime
    message_count: int = Field(default=0, ge=0)


# Dashboard chat over SSE.


class ChatStreamRequest(RequestModel):
    message: ChatText
    session_id: Identifier | None = None
    model: Identifier | None = None
    agent_id: Identifier | None = None


class ChatStreamEvent(ResponseModel):
    """One SSE event: a text `delta`, a progress `status` ("searching memory"), `meta` or a final `error`."""

    delta: str | None = None
    status: ShortText | None = None
    meta: dict[str, Any] | None = None
    error: str | None = None
