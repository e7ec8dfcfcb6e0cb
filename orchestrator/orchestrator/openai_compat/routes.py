"""OpenAI-compatible agent endpoint: IDE assistants talk to Nova itself (API key)."""

from typing import Annotated

from fastapi import APIRouter, Header, Request

from nova_common.sse import EventStream, json_event_stream
from orchestrator.deps import CallerAuth, OpenAICompatDep
from orchestrator.openai_compat.schemas import CompatChatRequest, OpenAIChatCompletion, OpenAIModelList

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


@router.get("/models", response_model=OpenAIModelList)
async def list_openai_models(_: CallerAuth, service: OpenAICompatDep) -> OpenAIModelList:
    """The model ids this endpoint answers to (`nova`: the primary agent)."""
    return service.models()


@router.post("/chat/completions", response_model=OpenAIChatCompletion)
async def create_chat_completion(
    body: CompatChatRequest,
    request: Request,
    principal: CallerAuth,
    service: OpenAICompatDep,
    session_id: Annotated[str | None, Header(alias="X-Session-Id", max_length=128)] = None,
) -> OpenAIChatCompletion | EventStream:
    """Chat with the primary agent (memory and tools) in OpenAI's format; `stream: true` for SSE chunks."""
    if body.stream:
        return json_event_stream(request, await service.stream(body, principal, session_id))
    return await service.complete(body, principal, session_id)
