"""Turn a requested model and the routing strategy into an ordered fallback chain of targets.

- `local-only`: the local slot only; a request naming a cloud model is served by the local model.
- `cloud-only`: cloud providers only; a request naming a local model goes to the cloud chain.
- `local-first` / `cloud-first`: the requested model first (when one is named), then the local default and
  the cloud defaults in the strategy's order. Without a model, the strategy alone decides.
Each provider appears once; the cloud order is catalog.CLOUD_FALLBACK_ORDER, except that a request naming no
model but a tier (or a task type implying one) puts that tier's available models first (routing/tiers.py).
A call cortex makes for itself is held to its budget tier (routing/budget.py): a named model above the ceiling
is downgraded to the ceiling tier's best available model, a tier above it is lowered to it, and every target
above it leaves the chain; at tier none only the local model remains, and a named cloud model is refused.
"""

from dataclasses import dataclass

import structlog

from llm_gateway.providers.catalog import LOCAL_SLUG
from llm_gateway.providers.local import LocalStatus
from llm_gateway.providers.registry import CloudProvider, ProviderRegistry
from llm_gateway.providers.transports import Target
from llm_gateway.routing.budget import ceiling_of, model_tier, over_budget, tier_within, within
from llm_gateway.routing.tiers import resolve_tier, tier_candidates
from llm_gateway.runtime_config import RuntimeConfigStore
from nova_common.errors import BadRequest, UpstreamUnavailable
from nova_contracts.cortex import BudgetTier
from nova_contracts.llm import RoutingStrategy, Tier

log = structlog.get_logger("llm_gateway.routing")

HOW_TO_FIND_MODELS = (
    "GET /v1/models lists the usable model ids; GET /v1/models/discover shows every provider, whether it is "
    "available and why not. Cloud ids are `<provider>/<model>` (e.g. groq/llama-3.3-70b-versatile)."
)


@dataclass(frozen=True)
class RoutePlan:
    targets: list[Target]
    strategy: RoutingStrategy
    skipped: list[str]  # why candidates were left out before any call
    tier: Tier | None = None  # the tier that ordered the cloud models, when the request named none
    reason: str = ""  # why the first target is first, in words (GET /v1/models/resolve)
    budget: BudgetTier | None = None  # cortex's budget tier, when it restricted this request


class Planner:
    def __init__(self, registry: ProviderRegistry, config: RuntimeConfigStore) -> None:
        self.registry = registry
        self.config = config

    async def plan(
        self,
        requested: str | None,
        *,
        tier: Tier | None = None,
        task_type: str | None = None,
        budget_bound: bool = False,
    ) -> RoutePlan:
        """`budget_bound`: the call is cortex's own, held to the budget tier cortex publishes."""
        config = await self.config.get()
        strategy = config.routing_strategy
        # Tier best restricts nothing; treating it as no budget keeps that path identical to any other call.
        budget = config.budget_tier if budget_bound and config.budget_tier is not BudgetTier.BEST else None
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
        downgraded = False
        if budget is not None:
            ceiling = ceiling_of(budget)
            if requested and self.registry.split(requested)[0] != LOCAL_SLUG:
                if ceiling is None:
                    raise over_budget(budget, f"{requested} is a cloud model")
                if not tier_within(model_tier(requested), ceiling):
                    skipped.append(
                        f"{requested}: above cortex's budget tier {budget.value}, downgraded to the {ceiling} tier"
                    )
                    requested, named_by_caller, wanted_tier, downgraded = None, False, ceiling, True
            if wanted_tier is not None and ceiling is not None and not tier_within(wanted_tier, ceiling):
                skipped.append(
                    f"tier {wanted_tier}: above cortex's budget tier {budget.value}, {ceiling} instead"
                )
                wanted_tier = ceiling
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
            # A tier is a ceiling: a provider's default model above it is no fallback for a cheaper request.
            cloud = self._tier_targets(wanted_tier, cloud_providers) + [
                t for t in cloud if tier_within(model_tier(t.gateway_model), wanted_tier)
            ]
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

        if budget is not None and chain:
            allowed = [t for t in chain if within(t, budget)]
            for name in dict.fromkeys(t.gateway_model for t in chain if t not in allowed):
                skipped.append(f"{name}: above cortex's budget tier {budget.value}")
            if not allowed:
                why = "; ".join(skipped)
                if not local.available:
                    why += f"; local slot: {local.reason}"
                raise over_budget(budget, why)
            chain = allowed
        targets = self._one_per_provider(chain)
        if not targets:
            reasons = "; ".join(skipped) or "no provider is configured"
            if not local.available:
                reasons += f"; local slot: {local.reason}"
            raise UpstreamUnavailable(f"no model can serve this request ({strategy.value}): {reasons}")
        if downgraded and budget is not None:
            source = (
                f"the named model is above cortex's budget tier {budget.value}, so tier {wanted_tier} chooses"
            )
        elif named_by_caller:
            source = "the request names this model"
        elif wanted_tier is not None:
            implied = f" (implied by task_type {task_type})" if tier is None else ""
            source = f"tier {wanted_tier}{implied} orders the cloud models"
        elif requested:
            source = f"the request names no model, so the default model {requested} is asked for"
        else:
            source = "the request names no model and no default is set, so the strategy's chain decides"
        reason = f"{source}; the {strategy.value} strategy puts {targets[0].gateway_model} first"
        return RoutePlan(
            targets=targets,
            strategy=strategy,
            skipped=skipped,
            tier=wanted_tier,
            reason=reason,
            budget=budget,
        )

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
