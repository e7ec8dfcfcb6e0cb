"""`POST /health/providers/{slug}/test`: one tiny completion against one provider, bypassing routing."""

import time

from llm_gateway.completions.service import CompletionService
from llm_gateway.providers.catalog import LOCAL_SLUG
from llm_gateway.providers.errors import ProviderCallError
from llm_gateway.providers.registry import ProviderRegistry
from llm_gateway.providers.transports import Target
from nova_common.errors import NotFound
from nova_contracts.llm import ProviderTestResult

PROBE_BODY = {
    "messages": [{"role": "user", "content": "Reply with the single word OK."}],
    "max_tokens": 5,
    "temperature": 0,
}


async def probe_provider(
    slug: str, registry: ProviderRegistry, completions: CompletionService, *, read_timeout: float
) -> ProviderTestResult:
    target: Target | None = None
    if slug == LOCAL_SLUG:
        local = await registry.local.status(refresh=True)
        if not local.available or not local.models:
            return ProviderTestResult(
                slug=slug, ok=False, detail=local.reason or "the local backend lists no model"
            )
        target = registry.local.target(local, local.models[0])
    else:
        provider = (await registry.cloud_providers()).get(slug)
        if provider is None:
            raise NotFound(f"unknown provider {slug!r}; GET /health/providers lists them")
        if not provider.available:
            return ProviderTestResult(slug=slug, ok=False, detail=provider.reason)
        target = provider.target(provider.default_model, registry.prices)
    started = time.perf_counter()
    try:
        await completions.transport_for(target).complete(target, dict(PROBE_BODY), read_timeout=read_timeout)
    except ProviderCallError as exc:
        return ProviderTestResult(slug=slug, ok=False, model=target.gateway_model, detail=exc.detail)
    latency = int((time.perf_counter() - started) * 1000)
    return ProviderTestResult(slug=slug, ok=True, model=target.gateway_model, latency_ms=latency)
