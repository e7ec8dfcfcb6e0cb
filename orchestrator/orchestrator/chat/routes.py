"""Chat (SSE) and its conversations: the dashboard (admin) sees every conversation, an API key its own."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from sse_starlette import EventSourceResponse

from nova_common.sse import json_event_stream
from nova_contracts.chat import (
    ChatStreamRequest,
    ConversationDetail,
    ConversationSummary,
    ConversationUpdate,
    StoredChatMessage,
)
from orchestrator.deps import MAX_PAGE_SIZE, CallerTenant, ChatServiceDep, Page

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
    tenant: CallerTenant,
    chat: ChatServiceDep,
    session_id: SessionHeader = None,
) -> EventSourceResponse:
    """Chat with the primary agent as SSE (`{"delta": …}`, `{"status": …}`, `{"meta": …}`, `{"error": …}`, then
    [DONE]); the `X-Session-Id` response header names the conversation to continue."""
    session, events = await chat.stream(body, session_id, tenant=tenant)
    return json_event_stream(request, events, headers={"X-Session-Id": session})


@router.get("/conversations", response_model=list[ConversationSummary])
async def list_conversations(
    tenant: CallerTenant, chat: ChatServiceDep, page: Page
) -> list[ConversationSummary]:
    """The caller's conversations (the admin's: all), most recently active first."""
    return await chat.recent(limit=page.limit, offset=page.offset, tenant=tenant)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: UUID, tenant: CallerTenant, chat: ChatServiceDep
) -> ConversationDetail:
    """A conversation with its messages, oldest first."""
    return await chat.get(conversation_id, tenant=tenant)


@router.get("/conversations/{conversation_id}/messages", response_model=list[StoredChatMessage])
async def list_conversation_messages(
    conversation_id: UUID,
    tenant: CallerTenant,
    chat: ChatServiceDep,
    limit: int = Query(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE),
    offset: int = Query(default=0, ge=0, description="skip this many of the newest messages"),
) -> list[StoredChatMessage]:
    """The latest messages of a conversation, oldest first."""
    return await chat.messages(conversation_id, tenant=tenant, limit=limit, offset=offset)


@router.patch("/conversations/{conversation_id}", response_model=ConversationSummary)
async def rename_conversation(
    conversation_id: UUID, body: ConversationUpdate, tenant: CallerTenant, chat: ChatServiceDep
) -> ConversationSummary:
    """Rename a conversation."""
    return await chat.rename(conversation_id, body.title, tenant=tenant)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation_id: UUID, tenant: CallerTenant, chat: ChatServiceDep) -> Response:
    """Delete a conversation and its messages."""
    await chat.delete(conversation_id, tenant=tenant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
