"""Chat (SSE) and its conversations: the dashboard (admin) sees every conversation, an API key its own."""

import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from starlette.types import Scope

from nova_common.fast_path import FastRoute, header
from nova_common.sse import EventStream, json_event_stream
from nova_contracts.chat import (
    ChatStreamRequest,
    ConversationDetail,
    ConversationSummary,
    ConversationUpdate,
    StoredChatMessage,
)
from orchestrator.agents.turn import PhaseClock
from orchestrator.deps import MAX_PAGE_SIZE, CallerTenant, ChatServiceDep, Page, Services, require_caller
from orchestrator.keys.tenant import Tenant

router = APIRouter(prefix="/api/v1", tags=["chat"])

SESSION_ID_CHARS = 128
SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:\-/@]+$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)

SessionHeader = Annotated[
    str | None,
    Header(
        alias="X-Session-Id",
        max_length=SESSION_ID_CHARS,
        pattern=SESSION_ID_PATTERN,
        description="continue this session",
    ),
]


@router.post("/chat/stream", response_class=EventStream)
async def stream_chat(
    body: ChatStreamRequest,
    request: Request,
    tenant: CallerTenant,
    chat: ChatServiceDep,
    session_id: SessionHeader = None,
) -> EventStream:
    """Chat with the primary agent as SSE (`{"delta": …}`, `{"status": …}`, `{"meta": …}`, `{"error": …}`, then
    [DONE]); the `X-Session-Id` response header names the conversation to continue."""
    session, events = await chat.stream(body, session_id, tenant=tenant)
    return json_event_stream(request, events, headers={"X-Session-Id": session})


def _session_header_valid(scope: Scope) -> bool:
    """What `SessionHeader` accepts (anything else goes to the FastAPI route, which answers its 422)."""
    value = header(scope, b"x-session-id")
    if value is None:
        return True
    text = value.decode("latin-1")  # as Starlette decodes headers
    return len(text) <= SESSION_ID_CHARS and _SESSION_ID.fullmatch(text) is not None


async def _fast_stream_chat(body: ChatStreamRequest, request: Request) -> Response:
    """`stream_chat` with its dependencies resolved directly: the caller check, then the route itself. Its
    timings (`meta.timings_ms`) start when the request reached the route: `request` (the body read and
    validated) and `auth` come first."""
    clock = PhaseClock.since(request.state.received_at)
    clock.mark("request")
    services: Services = request.app.state.services
    tenant = Tenant.of(await require_caller(request, services))
    clock.mark("auth")
    session, events = await services.chat.stream(
        body, request.headers.get("x-session-id"), tenant=tenant, clock=clock
    )
    return json_event_stream(request, events, headers={"X-Session-Id": session})


# Every dashboard chat turn takes this route: served ahead of FastAPI's router (nova_common.fast_path).
FAST_ROUTES = {
    "/api/v1/chat/stream": FastRoute(ChatStreamRequest, _fast_stream_chat, accepts=_session_header_valid)
}


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
