"""The OpenAI-compatible API: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`, plus the gateway's
own `/v1/models/discover` and `/v1/inference/stats` (the dashboard reaches the gateway under `/v1`)."""

import base64
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from llm_gateway.api.openai_errors import OPENAI_ERROR_RESPONSES, OpenAIRoute, error_payload
from llm_gateway.completions.service import ChatCall, StreamEnd, StreamFailure
from llm_gateway.deps import (
    V1_SECURITY,
    Services,
    V1Caller,
    check_v1_caller,
    is_cortex_call,
    key_window_of,
    services_of,
)
from llm_gateway.embeddings.minilm import MODEL_NAME as LOCAL_EMBED_MODEL
from llm_gateway.openai_compat.schemas import OpenAIChatCompletionRequest, OpenAIEmbeddingRequest
from nova_common.auth import Principal
from nova_common.errors import BadRequest
from nova_common.sse import json_event_stream
from nova_contracts.llm import (
    InferenceStats,
    ModelResolution,
    ProviderStatus,
    ResolvedCandidate,
    Tier,
)

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=OPENAI_ERROR_RESPONSES)


def _usage_tags(metadata: dict[str, Any] | None) -> dict[str, Any]:
    # The key a usage record is charged to is the caller's, never one named in the body.
    return {k: v for k, v in (metadata or {}).items() if k != "api_key_id"}


def _chat_call(body: OpenAIChatCompletionRequest, request: Request, caller: Principal) -> ChatCall:
    return ChatCall(
        body=body.upstream_body(),
        model=body.model,
        metadata=_usage_tags(body.metadata),
        api_key_id=caller.key.id if caller.key else None,
        budget_bound=is_cortex_call(request, caller),
        pending_key=key_window_of(caller),
    )


@router.post("/chat/completions", response_model=None, openapi_extra=V1_SECURITY)
async def create_chat_completion(body: OpenAIChatCompletionRequest, request: Request) -> Response:
    """OpenAI chat completions (streaming or not, tools, response_format); `model` is the model that answered."""
    # The gateway's hottest route resolves its services and caller itself (see llm_gateway/deps.py).
    services = services_of(request)
    call = _chat_call(body, request, await check_v1_caller(request, services, count_key=False))
    if not body.stream:
        result = await services.completions.complete(call)
        headers = {"X-Nova-Provider": result.provider, "X-Nova-Cache": "hit" if result.cached else "miss"}
        return JSONResponse(result.response, headers=headers)
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    items = await services.completions.open_stream(call)

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        try:
            async for item in items:
                if isinstance(item, StreamFailure):
                    yield error_payload(item.error)
                    return
                if isinstance(item, StreamEnd):
                    if include_usage:
                        yield item.usage_chunk or _usage_chunk(item)
                    return
                if not include_usage:
                    item.pop("usage", None)
                yield item
        finally:
            await items.aclose()

    return json_event_stream(request, chunks())


def _usage_chunk(end: StreamEnd) -> dict[str, Any]:
    return {
        "id": "chatcmpl-usage",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": end.model,
        "choices": [],
        "usage": {
            "prompt_tokens": end.input_tokens,
            "completion_tokens": end.output_tokens,
            "total_tokens": end.input_tokens + end.output_tokens,
        },
    }


@router.post("/embeddings")
async def create_embeddings(
    body: OpenAIEmbeddingRequest, services: Services, caller: V1Caller
) -> dict[str, Any]:
    """OpenAI embeddings; `all-MiniLM-L6-v2` is built in, cloud models are used through their providers."""
    if isinstance(body.input, str):
        texts = [body.input]
    elif body.input and all(isinstance(item, str) for item in body.input):
        texts = [str(item) for item in body.input]
    else:
        raise BadRequest("input must be a string or a list of strings; token-id input is not supported")
    result = await services.embeddings.embed(
        texts,
        model=body.model,
        dimensions=body.dimensions,
        metadata=_usage_tags(body.metadata),
        api_key_id=caller.key.id if caller.key else None,
    )
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": (
                base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
                if body.encoding_format == "base64"
                else vector
            ),
        }
        for index, vector in enumerate(result.vectors)
    ]
    usage = {"prompt_tokens": result.input_tokens, "total_tokens": result.input_tokens}
    # `dimensions` is not in OpenAI's response; clients ignore it, Nova's read it.
    return {
        "object": "list",
        "data": data,
        "model": result.model,
        "dimensions": result.dimensions,
        "usage": usage,
    }


@router.get("/models")
async def list_openai_models(services: Services, _: V1Caller) -> dict[str, Any]:
    """Model ids in OpenAI's list format: local models, usable cloud models and the built-in embedder."""
    infos = await services.registry.model_infos()
    data = [{"id": info.id, "object": "model", "created": 0, "owned_by": info.provider} for info in infos]
    data.append({"id": LOCAL_EMBED_MODEL, "object": "model", "created": 0, "owned_by": "local"})
    return {"object": "list", "data": data}


@router.get("/models/discover", response_model=list[ProviderStatus])
async def discover_models(services: Services, _: V1Caller, refresh: bool = False) -> list[ProviderStatus]:
    """Every provider: available or not and why, and its models (`refresh=true` re-probes the local slot)."""
    return await services.registry.statuses(refresh=refresh)


@router.get("/models/resolve", response_model=ModelResolution)
async def resolve_model(
    request: Request,
    services: Services,
    caller: V1Caller,
    model: Annotated[str | None, Query(max_length=200)] = None,
    tier: Tier | None = None,
    task_type: Annotated[str | None, Query(max_length=100)] = None,
) -> ModelResolution:
    """Which model a request naming this model, tier or task type (or none of them) would get now, and why.

    Nothing is called: the answer is the routing plan (strategy, tier, availability, the fallback chain and
    what was left out). A request the gateway would refuse gets the same error here (400, 429, 503)."""
    plan = await services.completions.planner.plan(
        model or None, tier=tier, task_type=task_type, budget_bound=is_cortex_call(request, caller)
    )
    first = plan.targets[0]
    return ModelResolution(
        model=first.gateway_model,
        provider=first.provider,
        strategy=plan.strategy,
        requested_model=model or None,
        tier=plan.tier,
        task_type=task_type,
        budget_tier=plan.budget,
        reason=plan.reason,
        candidates=[
            ResolvedCandidate(model=t.gateway_model, provider=t.provider, local=t.is_local)
            for t in plan.targets
        ],
        skipped=plan.skipped,
    )


@router.get("/inference/stats", response_model=InferenceStats)
async def get_inference_stats(services: Services, _: V1Caller) -> InferenceStats:
    """Rolling 5-minute figures for the local backend in this gateway process, and the response cache counters."""
    local = await services.registry.local.status()
    hits, misses = await services.cache.counters()
    summary = services.stats.summary()
    return InferenceStats(
        backend=local.backend,
        window_seconds=300,
        requests=int(summary["requests"] or 0),
        errors=int(summary["errors"] or 0),
        avg_latency_ms=summary["avg_latency_ms"],
        avg_ttft_ms=summary["avg_ttft_ms"],
        avg_tokens_per_second=summary["avg_tokens_per_second"],
        inflight=services.stats.inflight,
        cache_hits=hits,
        cache_misses=misses,
    )
