"""Dashboard chat (SSE) and its conversations (admin)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from sse_starlette import EventSourceResponse

from nova_common.auth import AdminAuth
from nova_common.sse import json_event_stream
from nova_contracts.chat import (
    ChatStreamRequest,
    ConversationDetail,
    ConversationSummary,
    ConversationUpdate,
    StoredChatMessage,
)
from orchestrator.deps import ChatServiceDep

router = APIRouter(prefix="/api/v1", tags=["chat"])

SessionHeader = Annotated[
    str | None,
    Header(
        alias="X-Session-Id",
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:\-/@]+$",
        description="continue this session",
    ),
]


@router.post("/chat/stream", response_class=EventSourceResponse)
async def stream_chat(
    body: ChatStreamRequest,
    request: Request,
    _: AdminAuth,
    chat: ChatServiceDep,
    session_id: SessionHeader = None,
) -> EventSourceResponse:
    """Chat with the primary agent as SSE (`{"delta": …}`, `{"status": …}`, `{"meta": …}`, `{"error": …}`, then
    [DONE]); the `X-Session-Id` response header names the conversation to continue."""
    session, events = await chat.stream(body, session_id)
    return json_event_stream(request, events, headers={"X-Session-Id": session})


@router.get("/conversations", response_model=list[ConversationSummary])
async def list_conversations(
    _: AdminAuth,
    chat: ChatServiceDep,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> list[ConversationSummary]:
    """Conversations, most recently active first."""
    return await chat.recent(limit=limit, offset=offset)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(conversation_id: UUID, _: AdminAuth, chat: ChatServiceDep) -> ConversationDetail:
    """A conversation with its messages, oldest first."""
    return await chat.get(conversation_id)


@router.get("/conversations/{conversation_id}/messages", response_model=list[StoredChatMessage])
async def list_conversation_messages(
    conversation_id: UUID,
    _: AdminAuth,
    chat: ChatServiceDep,
    limit: int = Query(default=200, ge=1, le=2000),
) -> list[StoredChatMessage]:
    """The latest messages of a conversation, oldest first."""
    return await chat.messages(conversation_id, limit=limit)


@router.patch("/conversations/{conversation_id}", response_model=ConversationSummary)
async def rename_conversation(
    conversation_id: UUID, body: ConversationUpdate, _: AdminAuth, chat: ChatServiceDep
) -> ConversationSummary:
    """Rename a conversation."""
    return await chat.rename(conversation_id, body.title)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation_id: UUID, _: AdminAuth, chat: ChatServiceDep) -> Response:
    """Delete a conversation and its messages."""
    await chat.delete(conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
