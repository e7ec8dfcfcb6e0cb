"""The gateway's long-lived services, built by the lifespan and reached through `deps.Services`."""

from dataclasses import dataclass

from llm_gateway.completions.cache import ResponseCache
from llm_gateway.completions.service import CompletionService
from llm_gateway.embeddings.service import EmbeddingEngine
from llm_gateway.providers.registry import ProviderRegistry
from llm_gateway.runtime_config import RuntimeConfigStore
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.stats import LocalInferenceStats
from nova_common.ratelimit import SlidingWindowLimiter


@dataclass
class GatewayServices:
    completions: CompletionService
    embeddings: EmbeddingEngine
    registry: ProviderRegistry
    config: RuntimeConfigStore
    limiter: SlidingWindowLimiter
    cache: ResponseCache
    usage: UsageRecorder
    stats: LocalInferenceStats
