"""Chat completion rules: plan a fallback chain, enforce quotas and the context window, call, fall back,
cache, and record usage. Requests and responses are in OpenAI's format throughout; `/complete`, `/stream`
and `/v1/chat/completions` translate at their edges.
"""

import asyncio
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import structlog

from llm_gateway.completions.cache import ResponseCache, cache_key, is_cacheable
from llm_gateway.providers.catalog import BY_SLUG
from llm_gateway.providers.errors import ProviderCallError
from llm_gateway.providers.pricing import PriceMap, estimate_prompt_tokens, prompt_chars
from llm_gateway.providers.transports import LiteLLMTransport, OpenAICompatibleTransport, Target
from llm_gateway.routing.plan import Planner
from llm_gateway.usage.recorder import UsageRecorder
from llm_gateway.usage.stats import LocalInferenceStats
from nova_common.errors import BadRequest, NovaError, RateLimited, UpstreamUnavailable
from nova_common.ratelimit import SlidingWindowLimiter, Window
from nova_contracts.llm import ProviderType, Tier, UsageRecord

log = structlog.get_logger("llm_gateway.completions")


@dataclass
class ChatCall:
    """One chat request in OpenAI form (`body` has no `model`/`stream`), plus who asked."""

    body: dict[str, Any]
    model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    api_key_id: str | None = None
    # With no `model`: the tier to choose from, or the kind of call that implies one (routing/tiers.py).
    tier: Tier | None = None
    task_type: str | None = None
    # cortex's own call (X-Nova-Caller: cortex with the service token): held to its budget tier.
    budget_bound: bool = False
    # The caller's key window while the request is not yet counted in it: it is counted together with the
    # first provider quota that admits the request (one Redis round trip for both), then set to None.
    pending_key: Window | None = None


def key_limit_reached(window: Window, retry_after: int) -> RateLimited:
    """The 429 of a key over its requests per minute (never a provider fallback: the caller is refused)."""
    return RateLimited(
        f"API key rate limit of {window.limit} requests/minute reached", retry_after=retry_after
    )


@dataclass
class ChatResult:
    response: dict[str, Any]  # an OpenAI chat.completion whose `model` is the model that answered
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    latency_ms: int
    cached: bool = False


@dataclass
class StreamEnd:
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    usage_chunk: dict[str, Any] | None  # the provider's final usage-only chunk, if it sent one


@dataclass
class StreamFailure:
    error: NovaError
    model: str | None


StreamItem = dict[str, Any] | StreamEnd | StreamFailure


def _usage_tokens(usage: dict[str, Any] | None) -> tuple[int, int]:
    if not usage:
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class CompletionService:
    def __init__(
        self,
        planner: Planner,
        *,
        direct: OpenAICompatibleTransport,
        litellm: LiteLLMTransport,
        limiter: SlidingWindowLimiter,
        cache: ResponseCache,
        usage: UsageRecorder,
        stats: LocalInferenceStats,
        prices: PriceMap,
        quota_window_seconds: int,
        probe_timeout: float = 30.0,
        use_litellm_for_openai: bool = False,
    ) -> None:
        self.planner = planner
        self.direct = direct
        self.litellm = litellm
        self.limiter = limiter
        self.cache = cache
        self.usage = usage
        self.stats = stats
        self.prices = prices
        self.quota_window_seconds = quota_window_seconds
        self.probe_timeout = probe_timeout
        self.use_litellm_for_openai = use_litellm_for_openai

    # ── public API ─────────────────────────────────────────────────────────────────────────────

    async def complete(self, call: ChatCall) -> ChatResult:
        # A budget-bound call is planned first, so a refusal by the budget does not depend on the cache.
        targets = await self._targets(call) if call.budget_bound else None
        key = cache_key(call.model, call.body) if is_cacheable(call.body) else None
        if key is not None:
            hit = await self.cache.get(key)
            if hit is not None:
                await self._count_key(call)
                return self._from_cache(call, hit)
        if targets is None:
            targets = await self._targets(call)
        failures: list[ProviderCallError] = []
        for target in targets:
            if not await self._admit(call, target, failures):
                continue
            started = time.perf_counter()
            try:
                if target.is_local:
                    with self.stats.track():
                        response = await self.transport_for(target).complete(target, call.body)
                else:
                    response = await self.transport_for(target).complete(target, call.body)
            except ProviderCallError as exc:
                self._note_local(target, started, None, 0, ok=False)
                if not exc.retryable:
                    raise
                failures.append(exc)
                log.warning(
                    "provider_skipped",
                    provider=target.provider,
                    model=target.gateway_model,
                    reason=exc.detail,
                )
                continue
            latency_ms = int((time.perf_counter() - started) * 1000)
            input_tokens, output_tokens = _usage_tokens(response.get("usage"))
            self._note_local(target, started, None, output_tokens, ok=True)
            response["model"] = target.gateway_model
            result = ChatResult(
                response=response,
                provider=target.provider,
                model=target.gateway_model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=self._cost(target, input_tokens, output_tokens),
                latency_ms=latency_ms,
            )
            self._record(
                call,
                result.provider,
                result.model,
                input_tokens,
                output_tokens,
                result.cost_usd,
                latency_ms,
                None,
                cache_hit=False,
            )
            if failures:
                log.info(
                    "answered_after_fallback",
                    model=target.gateway_model,
                    skipped=[f.provider for f in failures],
                )
            if key is not None:
                await self.cache.put(
                    key, {"response": response, "provider": target.provider, "cost_usd": result.cost_usd}
                )
            return result
        raise self._exhausted(failures)

    async def open_stream(self, call: ChatCall) -> AsyncGenerator[StreamItem, None]:
        """Plan first (so an unknown model or an oversized prompt is a plain HTTP error), then stream.

        The generator yields chunks (OpenAI dicts), then a `StreamEnd`, or a `StreamFailure` as its last item.
        Fallback happens only before the first chunk: after that the caller has part of an answer, and a
        failure is reported in-band. Closing the generator (client gone) closes the upstream call.
        """
        targets = await self._targets(call)
        # The first admission happens before the stream starts, so a key over its limit is an HTTP 429 like on
        # every other route, not an error inside a 200 stream.
        failures: list[ProviderCallError] = []
        for index, target in enumerate(targets):
            if await self._admit(call, target, failures):
                return self._stream(call, targets[index:], failures)
        return self._stream(call, [], failures)

    async def _stream(
        self, call: ChatCall, targets: list[Target], failures: list[ProviderCallError]
    ) -> AsyncGenerator[StreamItem, None]:
        """`targets[0]`, if any, is already admitted; the others are admitted when their turn comes."""
        for position, target in enumerate(targets):
            if position > 0 and not await self._admit(call, target, failures):
                continue
            started = time.perf_counter()
            upstream = self.transport_for(target).stream(target, call.body)
            try:
                first: dict[str, Any] | None = await anext(upstream)
            except StopAsyncIteration:
                first = None
            except ProviderCallError as exc:
                await upstream.aclose()
                self._note_local(target, started, None, 0, ok=False)
                if not exc.retryable:
                    yield StreamFailure(exc, target.gateway_model)
                    return
                failures.append(exc)
                log.warning(
                    "provider_skipped",
                    provider=target.provider,
                    model=target.gateway_model,
                    reason=exc.detail,
                )
                continue
            relay = self._relay(call, target, upstream, first, started)
            try:
                async for item in relay:
                    yield item
            finally:
                # Close explicitly: when our caller goes away, the upstream request must stop now, not
                # whenever the garbage collector finalizes the inner generator.
                await relay.aclose()
            return
        yield StreamFailure(self._exhausted(failures), call.model)

    # ── internals ──────────────────────────────────────────────────────────────────────────────

    async def _relay(
        self,
        call: ChatCall,
        target: Target,
        upstream: AsyncGenerator[dict[str, Any], None],
        first: dict[str, Any] | None,
        started: float,
    ) -> AsyncGenerator[StreamItem, None]:
        ttft_ms: float | None = None
        usage: dict[str, Any] | None = None
        usage_chunk: dict[str, Any] | None = None
        content_chunks = 0
        ok = False
        if target.is_local:
            self.stats.inflight += 1
        try:
            pending = first
            while pending is not None:
                chunk = pending
                chunk["model"] = target.gateway_model
                if chunk.get("usage"):
                    usage = chunk["usage"]
                choices = chunk.get("choices") or []
                if choices:
                    if ttft_ms is None:
                        ttft_ms = (time.perf_counter() - started) * 1000
                    content_chunks += 1
                    yield chunk
                elif usage is not None:
                    usage_chunk = chunk
                try:
                    pending = await anext(upstream)
                except StopAsyncIteration:
                    pending = None
            ok = True
        except ProviderCallError as exc:
            log.warning("stream_failed_midway", provider=target.provider, reason=exc.detail)
            yield StreamFailure(exc, target.gateway_model)
        finally:
            await upstream.aclose()
            if target.is_local:
                self.stats.inflight -= 1
            latency_ms = int((time.perf_counter() - started) * 1000)
            input_tokens, output_tokens = _usage_tokens(usage)
            if not usage:
                output_tokens = content_chunks  # the provider sent no usage: one token per chunk is close
            cost = self._cost(target, input_tokens, output_tokens)
            self._note_local(target, started, ttft_ms, output_tokens, ok=ok)
            self._record(
                call,
                target.provider,
                target.gateway_model,
                input_tokens,
                output_tokens,
                cost,
                latency_ms,
                int(ttft_ms) if ttft_ms is not None else None,
                cache_hit=False,
            )
        if ok:
            yield StreamEnd(
                target.provider, target.gateway_model, input_tokens, output_tokens, cost, usage_chunk
            )

    async def _targets(self, call: ChatCall) -> list[Target]:
        plan = await self.planner.plan(
            call.model, tier=call.tier, task_type=call.task_type, budget_bound=call.budget_bound
        )
        for reason in plan.skipped:
            log.info("candidate_skipped", reason=reason)
        if plan.budget is not None:
            log.info("budget_applied", budget_tier=plan.budget.value, first=plan.targets[0].gateway_model)
        if plan.tier is not None:
            log.info(
                "tier_chosen", tier=plan.tier, task_type=call.task_type, first=plan.targets[0].gateway_model
            )
        messages = call.body.get("messages", [])
        smallest = min(t.context_window or 10**9 for t in plan.targets)
        # A token is at least half a character in every tokenizer we route to, so short prompts skip counting.
        if prompt_chars(messages) * 2 < smallest:
            return plan.targets
        tokens = await asyncio.to_thread(estimate_prompt_tokens, messages)
        fitting = [t for t in plan.targets if (t.context_window or 10**9) >= tokens]
        first = plan.targets[0]
        if (call.model and first not in fitting) or not fitting:
            raise BadRequest(
                f"the prompt is about {tokens} tokens, more than {first.gateway_model}'s context window of "
                f"{first.context_window} tokens; shorten it or choose a model with a larger window"
            )
        return fitting

    async def _count_key(self, call: ChatCall) -> None:
        """Count the request in its key's window alone (an answer that needs no provider: a cache hit)."""
        if call.pending_key is None:
            return
        admission = await self.limiter.admit_all([call.pending_key])
        if not admission.admitted:
            raise key_limit_reached(call.pending_key, admission.retry_after_seconds)
        call.pending_key = None

    async def _admit(self, call: ChatCall, target: Target, failures: list[ProviderCallError]) -> bool:
        """Count the request in `target`'s daily quota and, the first time, in its key's window: one round trip,
        counted in both or in neither. A full key window refuses the request (429); a full quota skips
        `target` (the fallback chain goes on, the key's slot unspent)."""
        key = call.pending_key
        quota = (
            Window(f"nova:ratelimit:{target.provider}", target.daily_quota, self.quota_window_seconds)
            if target.daily_quota
            else None
        )
        windows = [w for w in (key, quota) if w is not None]
        if not windows:
            return True
        try:
            admission = await self.limiter.admit_all(windows)
        except Exception as exc:
            if key is not None:
                raise  # a key's limit is never waived
            # A quota we cannot check must not take the provider down: fail open.
            log.warning("quota_check_failed", provider=target.provider, error=type(exc).__name__)
            return True
        if admission.admitted:
            call.pending_key = None  # counted: later fallbacks check their own quota only
            return True
        if key is not None and admission.refused_by is key:
            raise key_limit_reached(key, admission.retry_after_seconds)
        failures.append(
            ProviderCallError(
                target.provider,
                f"{target.provider}: daily quota of {target.daily_quota} requests used up",
                status_code=429,
                retry_after=admission.retry_after_seconds,
            )
        )
        log.warning("provider_skipped", provider=target.provider, reason="daily quota exhausted")
        return False

    def transport_for(self, target: Target) -> OpenAICompatibleTransport | LiteLLMTransport:
        if target.transport == "openai" and not self.use_litellm_for_openai:
            return self.direct
        return self.litellm

    def _cost(self, target: Target, input_tokens: int, output_tokens: int) -> float | None:
        if target.is_local:
            return 0.0
        spec = BY_SLUG.get(target.provider)
        if spec is not None and spec.type is ProviderType.SUBSCRIPTION:
            return 0.0  # flat-rate subscription: no per-call cost
        return self.prices.cost_usd(target.price_prefix, target.model, input_tokens, output_tokens)

    def _note_local(
        self, target: Target, started: float, ttft_ms: float | None, output_tokens: int, *, ok: bool
    ) -> None:
        if target.is_local:
            latency = (time.perf_counter() - started) * 1000
            self.stats.add(latency_ms=latency, ttft_ms=ttft_ms, output_tokens=output_tokens, ok=ok)

    def _record(
        self,
        call: ChatCall,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        latency_ms: int,
        ttft_ms: int | None,
        *,
        cache_hit: bool,
    ) -> None:
        meta = call.metadata

        def tag(name: str) -> str | None:
            value = meta.get(name)
            return None if value is None else str(value)[:200]

        self.usage.record(
            UsageRecord(
                provider=provider,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_usd=cost,
                latency_ms=latency_ms,
                ttft_ms=ttft_ms,
                cache_hit=cache_hit,
                agent_id=tag("agent_id"),
                task_id=tag("task_id"),
                api_key_id=call.api_key_id or tag("api_key_id"),
            )
        )

    def _from_cache(self, call: ChatCall, hit: dict[str, Any]) -> ChatResult:
        response: dict[str, Any] = hit["response"]
        input_tokens, output_tokens = _usage_tokens(response.get("usage"))
        result = ChatResult(
            response=response,
            provider=str(hit.get("provider", "")),
            model=str(response.get("model", "")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=0.0,  # nothing was spent on this answer
            latency_ms=0,
            cached=True,
        )
        self._record(
            call, result.provider, result.model, input_tokens, output_tokens, 0.0, 0, None, cache_hit=True
        )
        return result

    @staticmethod
    def _exhausted(failures: list[ProviderCallError]) -> NovaError:
        if not failures:
            return UpstreamUnavailable("no provider could be tried for this request")
        reasons = "; ".join(f.detail for f in failures)
        if all(f.status_code == 429 for f in failures):
            waits = [f.retry_after for f in failures if f.retry_after]
            return RateLimited(
                f"every provider is rate-limited: {reasons}", retry_after=min(waits) if waits else 60
            )
        return UpstreamUnavailable(f"every provider failed: {reasons}")
