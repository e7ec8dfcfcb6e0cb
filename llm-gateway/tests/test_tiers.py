"""A request naming no model but a tier (or a task type implying one) gets that tier's first available model."""

from typing import Any

import pytest
from fakes import Reply

from llm_gateway.routing.tiers import (
    TASK_TYPE_TIERS,
    TIER_ORDER,
    TIER_PREFERENCES,
    resolve_tier,
    tier_candidates,
)
from nova_contracts.llm import Tier

USER = [{"role": "user", "content": "which model are you?"}]


async def _complete(gateway: Any, headers: dict[str, str], **body: Any) -> Any:
    response = await gateway.client.post("/complete", json={"messages": USER, **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("tier", TIER_ORDER)
def test_a_tier_falls_back_to_lower_tiers_never_to_higher_ones(tier: Tier) -> None:
    position = TIER_ORDER.index(tier)
    own_and_lower = [m for t in TIER_ORDER[position:] for m in TIER_PREFERENCES[t]]
    only_higher = {m for t in TIER_ORDER[:position] for m in TIER_PREFERENCES[t]} - set(own_and_lower)

    candidates = tier_candidates(tier)

    assert candidates[: len(TIER_PREFERENCES[tier])] == list(TIER_PREFERENCES[tier])  # its own first
    assert set(candidates) == set(own_and_lower) and len(candidates) == len(set(candidates))
    assert not only_higher & set(candidates), f"{tier} may use a higher tier's model"
    if position > 0:
        assert only_higher, "the tables give this test nothing to check"


def test_a_task_type_or_an_explicit_tier_decides_the_tier() -> None:
    assert resolve_tier(None, "guardrail") == "cheap" and resolve_tier("best", "guardrail") == "best"
    assert resolve_tier(None, "no-such-kind") is None and TASK_TYPE_TIERS["code_review"] == "best"


async def test_a_cheap_call_is_never_sent_to_a_best_tier_model_even_when_only_best_is_configured(
    gateway_factory: Any, wired: dict[str, Any], fake_anthropic: Any, service_headers: dict[str, str]
) -> None:
    only_anthropic = {k: v for k, v in wired.items() if k.startswith("anthropic")}
    gateway = await gateway_factory(**only_anthropic, llm_routing_strategy="cloud-only")
    fake_anthropic.script.push(Reply(content="expensive answer"))

    response = await gateway.client.post(
        "/complete", json={"messages": USER, "tier": "cheap"}, headers=service_headers
    )

    assert fake_anthropic.script.requests == []
    assert response.status_code == 503, response.text


async def test_best_tier_is_served_by_the_best_configured_model(
    gateway_factory: Any, wired: dict[str, Any], fake_anthropic: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    fake_anthropic.script.push(Reply(content="a careful answer"))
    answer = await _complete(gateway, service_headers, tier="best")
    assert answer["model"] == "anthropic/claude-sonnet-4-6" and answer["content"] == "a careful answer"


async def test_a_task_type_implies_its_tier(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    fake_openai.script.push(Reply(content="no injection found"))
    answer = await _complete(gateway, service_headers, task_type="guardrail")
    assert answer["model"] == "groq/llama-3.1-8b-instant"
    assert fake_openai.script.requests[-1]["model"] == "llama-3.1-8b-instant"


async def test_without_the_best_providers_a_best_call_drops_to_the_next_tier(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    only_groq = {k: v for k, v in wired.items() if not k.startswith(("anthropic", "openai"))}
    gateway = await gateway_factory(**only_groq, llm_routing_strategy="cloud-first")
    fake_openai.script.push(Reply(content="mid-tier answer"))
    answer = await _complete(gateway, service_headers, tier="best")
    assert answer["model"] == "groq/llama-3.3-70b-versatile"


async def test_a_named_model_wins_over_the_tier_and_local_first_keeps_the_local_model_first(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_openai: Any,
    fake_local: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    fake_openai.script.push(Reply(content="as asked"))
    named = await _complete(gateway, service_headers, model="openai/gpt-4o-mini", tier="best")
    assert named["model"] == "openai/gpt-4o-mini"

    local_first = await gateway_factory(**wired, llm_routing_strategy="local-first")
    fake_local.script.push(Reply(content="kept on this machine"))
    answer = await _complete(local_first, service_headers, tier="best")
    assert answer["model"] == "smollm2-135m" and answer["content"] == "kept on this machine"
