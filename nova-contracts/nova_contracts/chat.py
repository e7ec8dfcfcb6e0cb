"""Chat contracts: the chat-api WebSocket frames and the dashboard's `/api/v1/chat/stream` SSE events.

Every WebSocket frame is a JSON object whose `type` picks the model: the client sends `auth`, `user` and
`ping`; the server answers with `system`, `queued`, `stream_chunk`, `stream_end`, `error` and `pong`.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, model_validator

from nova_contracts.base import Identifier, RequestModel, ResponseModel, ShortText
from nova_contracts.llm import MAX_MESSAGES, Message

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
    """The API key (or the admin secret), sent as the first frame by clients that keep it out of the URL."""

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
    """One user turn: `message`, or the documented OpenAI-style `messages` list, of which the last user
    message is the turn (earlier ones are ignored: the conversation is kept server-side by session)."""

    # "" only as a default, so a request may carry `messages` instead; one of the two is required.
    message: ChatText = ""
    messages: Annotated[list[Message], Field(max_length=MAX_MESSAGES)] | None = None
    session_id: Identifier | None = None
    model: Identifier | None = None
    agent_id: Identifier | None = None
    # A research turn is also offered web_search and web_fetch, for this turn only (within the caller's
    # tool policy).
    research: bool = False

    @model_validator(mode="after")
    def _message_from_messages(self) -> "ChatStreamRequest":
        if not self.message and self.messages:
            user_texts = [m.text for m in self.messages if m.role == "user" and m.text.strip()]
            if not user_texts:
                raise ValueError("`messages` has no user message with text")
            if len(user_texts[-1]) > 32_000:
                raise ValueError("the last user message is longer than 32000 characters")
            self.message = user_texts[-1]
        if not self.message:
            raise ValueError("send `message` (or `messages` with a user message)")
        return self


class ChatStreamEvent(ResponseModel):
    """One SSE event: a text `delta`, a progress `status` ("searching memory"), `meta` or a final `error`."""

    delta: str | None = None
    status: ShortText | None = None
    meta: dict[str, Any] | None = None
    error: str | None = None


# chat-api state kept in Redis DB 3 (JSON under `nova:chat:*`).


class ChatSession(ResponseModel):
    """`nova:chat:session:{id}`: who owns a WebSocket chat session and which agent answers in it.

    `owner` ("admin", "key:<uuid>" or "local") binds the session to the caller that created it, so no other
    caller can resume it; sessions stored before it existed have only `key_id` (None: a local caller).
    """

    session_id: str
    agent_id: str | None = None
    key_id: str | None = None
    owner: str | None = None

    @property
    def tenant(self) -> str:
        """The owner string, also for sessions stored before `owner` existed."""
        if self.owner is not None:
            return self.owner
        return f"key:{self.key_id}" if self.key_id else "local"

    created_at: datetime
    last_active: datetime
    message_count: int = Field(default=0, ge=0)


class PendingChatMessage(ResponseModel):
    """A user turn waiting in `nova:chat:session:{id}:pending` until the orchestrator has answered it."""

    message_id: str
    session_id: str
    content: str
    queued_at: datetime


class HeldChatReply(ResponseModel):
    """An answer (or its error) produced while no client of the session was connected, replayed on reconnect."""

    message_id: str
    session_id: str
    content: str = ""
    error: str | None = None
    created_at: datetime


# Chat bridge state kept in Redis DB 4.


class BridgeSession(ResponseModel):
    """`nova:bridge:{platform}:{platform_id}`: the Nova session a Telegram chat or Slack thread talks in."""

    session_id: str
    agent_id: str | None = None
    created_at: datetime
    message_count: int = Field(default=0, ge=0)


# Dashboard conversations, kept by the orchestrator.

ConversationTitle = Annotated[str, Field(min_length=1, max_length=200)]


class ConversationSummary(ResponseModel):
    id: str
    session_id: str
    title: str | None = None
    agent_id: str | None = None
    message_count: int = Field(default=0, ge=0)
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None


class StoredChatMessage(ResponseModel):
    """One persisted message; tool calls and their results are kept in `metadata`."""

    id: str
    role: Literal["user", "assistant", "system", "tool"]
    content: str
    model: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class ConversationDetail(ConversationSummary):
    messages: list[StoredChatMessage] = Field(default_factory=list)


class ConversationUpdate(RequestModel):
    title: ConversationTitle


class AdapterState(StrEnum):
    DISABLED = "disabled"  # its tokens are not configured
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"
    STOPPED = "stopped"


class BridgeAdapterStatus(ResponseModel):
    """One platform adapter of chat-bridge as `GET /api/status` reports it (never any token)."""

    platform: str
    configured: bool
    state: AdapterState
    mode: str | None = None  # polling / webhook (Telegram), socket / events-api (Slack)
    error: str | None = None
    started_at: datetime | None = None


class BridgeStatus(ResponseModel):
    adapters: list[BridgeAdapterStatus]
