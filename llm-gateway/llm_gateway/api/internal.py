"""The Nova API other services call: `/complete`, `/stream`, `/embed`, `/models`, `/config`."""

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request

from llm_gateway.completions.service import ChatCall, StreamEnd, StreamFailure
from llm_gateway.deps import Services, is_cortex_call
from llm_gateway.openai_compat.translate import StreamTranslator, to_complete_response, to_openai_body
from nova_common.auth import Principal, ServiceAuth
from nova_common.sse import EventStream, json_event_stream
from nova_contracts.llm import (
    CompleteRequest,
    CompleteResponse,
    EmbedRequest,
    EmbedResponse,
    FinishReason,
    GatewayConfig,
    GatewayConfigUpdate,
    ModelInfo,
    StreamChunk,
)

router = APIRouter(tags=["nova"])


def _call(body: CompleteRequest, request: Request, caller: Principal) -> ChatCall:
    return ChatCall(
        body=to_openai_body(body),
        model=body.model,
        metadata=dict(body.metadata),
        api_key_id=str(body.metadata["api_key_id"]) if body.metadata.get("api_key_id") else None,
        tier=body.tier,
        task_type=body.task_type,
        budget_bound=is_cortex_call(request, caller),
    )


@router.post("/complete", response_model=CompleteResponse)
async def complete_chat(
    body: CompleteRequest, request: Request, services: Services, caller: ServiceAuth
) -> CompleteResponse:
    """One chat completion; `model` says which model actually answered after any fallback."""
    result = await services.completions.complete(_call(body, request, caller))
    return to_complete_response(
        result.response,
        provider=result.provider,
        cost_usd=result.cost_usd,
        latency_ms=result.latency_ms,
        cached=result.cached,
    )


@router.post("/stream", response_class=EventStream)
async def stream_chat(
    body: CompleteRequest, request: Request, services: Services, caller: ServiceAuth
) -> EventStream:
    """SSE: one `StreamChunk` JSON per `data:` line, then `data: [DONE]`; a failure is a final chunk with `error`."""

    items = await services.completions.open_stream(_call(body, request, caller))

    async def chunks() -> AsyncIterator[StreamChunk]:
        translator = StreamTranslator()
        try:
            async for item in items:
                if isinstance(item, StreamFailure):
                    yield StreamChunk(
                        error=item.error.detail, finish_reason=FinishReason.ERROR, model=item.model
                    )
                    return
                if isinstance(item, StreamEnd):
                    yield translator.last(
                        model=item.model,
                        input_tokens=item.input_tokens,
                        output_tokens=item.output_tokens,
                        cost_usd=item.cost_usd,
                    )
                    return
                chunk = translator.feed(item)
                if chunk is not None:
                    yield chunk
        finally:
            await items.aclose()

    return json_event_stream(request, chunks())


@router.post("/embed", response_model=EmbedResponse)
async def embed_texts(body: EmbedRequest, services: Services, _: ServiceAuth) -> EmbedResponse:
    """Embed texts (default: the built-in all-MiniLM-L6-v2, 384 dimensions); cached by content hash."""
    result = await services.embeddings.embed(body.texts, model=body.model, dimensions=body.dimensions)
    return EmbedResponse(
        embeddings=result.vectors,
        model=result.model,
        dimensions=result.dimensions,
        input_tokens=result.input_tokens,
        cached_count=result.cached_count,
    )


@router.get("/models", response_model=list[ModelInfo])
async def list_models(services: Services, _: ServiceAuth) -> list[ModelInfo]:
    """Every model a request may name now, with context window, capabilities and prices."""
    return await services.registry.model_infos()


async def _effective_config(services: Services) -> GatewayConfig:
    config = await services.config.get()
    return GatewayConfig(
        routing_strategy=config.routing_strategy,
        default_chat_model=config.default_chat_model or None,
        default_embed_model=services.embeddings.default_model,
        inference_backend=config.inference_backend,
        inference_state=config.inference_state,
        inference_url=config.inference_url,
        inference_auth_configured=bool(config.inference_auth_header),
    )


@router.get("/config", response_model=GatewayConfig)
async def get_config(services: Services, _: ServiceAuth) -> GatewayConfig:
    """The effective runtime configuration (env defaults overlaid with Redis `nova:config:*`)."""
    return await _effective_config(services)


@router.patch("/config", response_model=GatewayConfig)
async def update_config(body: GatewayConfigUpdate, services: Services, _: ServiceAuth) -> GatewayConfig:
    """Change the routing strategy, default model or local backend; every gateway process follows within seconds.

    A default model must be `<provider>/<model>` or a model the gateway serves now: anything else would make
    every request that names no model fail.
    """
    if body.default_chat_model:
        await services.registry.check_routable(body.default_chat_model)
    await services.config.update(body)
    return await _effective_config(services)
