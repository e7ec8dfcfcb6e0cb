"""Turn a requested model and the routing strategy into an ordered fallback chain of targets.

- `local-only`: the local slot only; a request naming a cloud model is served by the local model.
- `cloud-only`: cloud providers only; a request naming a local model goes to the cloud chain.
- `local-first` / `cloud-first`: the requested model first (when one is named), then the local default and
  the cloud defaults in the strategy's order. Without a model, the strategy alone decides.
Each provider appears once; the cloud order is catalog.CLOUD_FALLBACK_ORDER, except that a request naming no
model but a tier (or a task type implying one) puts that tier's available models first (routing/tiers.py).
"""

from dataclasses import dataclass

import structlog

from llm_gateway.providers.catalog import LOCAL_SLUG
from llm_gateway.providers.local import LocalStatus
from llm_gateway.providers.registry import CloudProvider, ProviderRegistry
from llm_gateway.providers.transports import Target
from llm_gateway.routing.tiers import resolve_tier, tier_candidates
from llm_gateway.runtime_config import RuntimeConfigStore
from nova_common.errors import BadRequest, UpstreamUnavailable
from nova_contracts.llm import RoutingStrategy, Tier

log = structlog.get_logger("llm_gateway.routing")

HOW_TO_FIND_MODELS = (
    "GET /v1/models lists the usable model ids; GET /v1/models/discover shows every provider, whether it is "
    "available and why not. Cloud ids are `<provider>/<model>` (e.g. groq/llama-3.3-70b-versatile)."
)


@dataclass(frozen=True)
class Plan:
    targets: list[Target]
    strategy: RoutingStrategy
    skipped: list[str]  # why candidates were left out before any call
    tier: Tier | None = None  # the tier that ordered the cloud models, when the request named none


class Planner:
    def __init__(self, registry: ProviderRegistry, config: RuntimeConfigStore) -> None:
        self.registry = registry
        self.config = config

    async def plan(
        self, requested: str | None, *, tier: Tier | None = None, task_type: str | None = None
    ) -> Plan:
        config = await self.config.get()
        strategy = config.routing_strategy
        if strategy is RoutingStrategy.CLOUD_ONLY:
            # Never probe the local slot when it cannot be used (it may not even exist, as in cloud-only Compose).
            local = LocalStatus(
                config.inference_backend,
                config.inference_state,
                config.inference_url,
                False,
                "routing strategy is cloud-only",
                (),
                {},
            )
        else:
            local = await self.registry.local.status()
        cloud_providers = self.registry.cloud_for(config)
        skipped: list[str] = []
        wanted_tier = None if requested else resolve_tier(tier, task_type)
        named_by_caller = bool(requested)
        requested = requested or (None if wanted_tier else config.default_chat_model) or None

        primary: Target | None = None
        primary_is_local = False
        if requested:
            slug, model = self.registry.split(requested)
            if slug == LOCAL_SLUG:
                primary_is_local = True
                if local.available and model not in local.models:
                    if named_by_caller:
                        raise BadRequest(f"unknown model {requested!r}. {HOW_TO_FIND_MODELS}")
                    # A default model that is not served (a stale or mistyped setting) must not fail every
                    # request that names none: the strategy's own chain serves them, and the log says why.
                    log.warning("default_model_not_served", model=requested)
                    skipped.append(f"{requested}: the configured default model is not served")
                    requested, primary_is_local = None, False
                elif local.available:
                    primary = self.registry.local.target(local, model)
                else:
                    skipped.append(f"{requested}: {local.reason}")
            else:
                provider = cloud_providers[slug]
                if provider.available:
                    primary = provider.target(model, self.registry.prices)
                else:
                    skipped.append(f"{requested}: {provider.reason}")

        local_default = self._local_default(local, config.default_chat_model)
        cloud = self.registry.cloud_defaults(config)
        if wanted_tier is not None:
            cloud = self._tier_targets(wanted_tier, cloud_providers) + cloud
        chain: list[Target] = []
        if strategy is RoutingStrategy.LOCAL_ONLY:
            if primary is not None and primary.is_local:
                chain = [primary]
            elif local_default is not None:
                if requested and not primary_is_local:
                    skipped.append(f"{requested}: routing strategy is local-only")
                chain = [local_default]
        elif strategy is RoutingStrategy.CLOUD_ONLY:
            if primary is not None and primary.is_local:
                skipped.append(f"{requested}: routing strategy is cloud-only")
                primary = None
            chain = [t for t in ([primary] if primary else []) + cloud]
        else:
            local_part = [local_default] if local_default is not None else []
            order = local_part + cloud if strategy is RoutingStrategy.LOCAL_FIRST else cloud + local_part
            chain = ([primary] if primary else []) + order

        targets = self._one_per_provider(chain)
        if not targets:
            reasons = "; ".join(skipped) or "no provider is configured"
            if not local.available:
                reasons += f"; local slot: {local.reason}"
            raise UpstreamUnavailable(f"no model can serve this request ({strategy.value}): {reasons}")
        return Plan(targets=targets, strategy=strategy, skipped=skipped, tier=wanted_tier)

    def _tier_targets(self, tier: Tier, cloud_providers: dict[str, CloudProvider]) -> list[Target]:
        targets = []
        for candidate in tier_candidates(tier):
            slug, model = candidate.split("/", 1)
            provider = cloud_providers.get(slug)
            if provider is not None and provider.available:
                targets.append(provider.target(model, self.registry.prices))
        return targets

    def _local_default(self, local: LocalStatus, configured: str) -> Target | None:
        if not local.available or not local.models:
            return None
        slug, model = self.registry.split(configured) if configured else (LOCAL_SLUG, "")
        if slug == LOCAL_SLUG and model in local.models:
            return self.registry.local.target(local, model)
        return self.registry.local.target(local, local.models[0])

    @staticmethod
    def _one_per_provider(chain: list[Target]) -> list[Target]:
        seen: set[str] = set()
        result = []
        for target in chain:
            if target.provider in seen:
                continue
            seen.add(target.provider)
            result.append(target)
        return result
