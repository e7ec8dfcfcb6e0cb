"""cortex's own calls are held to the budget tier it publishes in Redis DB 1 (`nova:config:cortex.budget_tier`).

Real app, real Redis, fake providers: the tier is written the way cortex writes it, and a call is cortex's when
it carries `X-Nova-Caller: cortex` with the service token.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from nova_common.redis import create_redis
from nova_contracts.cortex import BUDGET_TIER_CONFIG_KEY
from nova_contracts.orchestrator import config_redis_key, encode_config_value

USER = [{"role": "user", "content": "plan the next step"}]
SERVICE_TOKEN = "test-service-token-0123456789"
CORTEX = {"X-Service-Token": SERVICE_TOKEN, "X-Nova-Caller": "cortex"}
SERVICE = {"X-Service-Token": SERVICE_TOKEN}
LOCAL_MODEL = "smollm2-135m"


@pytest.fixture
async def config_redis(redis_base_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_redis("llm-gateway", redis_base_url)
    yield client
    await client.aclose()


@pytest.fixture
def publish(config_redis: aioredis.Redis) -> Any:
    """Publish a budget tier exactly as cortex does (cortex/cortex/budget.py)."""

    async def write(tier: str) -> None:
        await config_redis.set(config_redis_key(BUDGET_TIER_CONFIG_KEY), encode_config_value(tier))

    return write


async def _complete(gateway: Any, headers: dict[str, str], **body: Any) -> Any:
    return await gateway.client.post("/complete", json={"messages": USER, **body}, headers=headers)


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        ("best", "anthropic/claude-sonnet-4-6"),
        ("mid", "groq/llama-3.3-70b-versatile"),
        ("cheap", "groq/llama-3.1-8b-instant"),
    ],
)
async def test_cortex_asking_for_the_best_tier_gets_no_model_above_its_budget_tier(
    gateway_factory: Any, wired: dict[str, Any], publish: Any, budget: str, expected: str
) -> None:
    await publish(budget)
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    response = await _complete(gateway, CORTEX, task_type="planning")
    assert response.status_code == 200, response.text
    assert response.json()["model"] == expected


async def test_a_named_model_above_the_budget_tier_is_downgraded_to_the_best_model_of_that_tier(
    gateway_factory: Any, wired: dict[str, Any], publish: Any, fake_openai: Any
) -> None:
    await publish("cheap")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    response = await _complete(gateway, CORTEX, model="anthropic/claude-sonnet-4-6")
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "groq/llama-3.1-8b-instant"
    assert fake_openai.script.requests[-1]["model"] == "llama-3.1-8b-instant"
    # A named model within the tier is kept.
    within = await _complete(gateway, CORTEX, model="openai/gpt-4o-mini")
    assert within.json()["model"] == "openai/gpt-4o-mini"


async def test_at_tier_none_cortex_is_refused_with_429_naming_the_budget_until_utc_midnight(
    gateway_factory: Any, wired: dict[str, Any], publish: Any, fake_openai: Any, fake_anthropic: Any
) -> None:
    await publish("none")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    for body in ({"task_type": "planning"}, {"model": "groq/llama-3.1-8b-instant"}, {}):
        response = await _complete(gateway, CORTEX, **body)
        assert response.status_code == 429, response.text
        detail = response.json()["detail"]
        assert "budget" in detail and "'none'" in detail
        assert 1 <= int(response.headers["Retry-After"]) <= 86_400
    streamed = await gateway.client.post("/stream", json={"messages": USER}, headers=CORTEX)
    assert streamed.status_code == 429 and "budget" in streamed.json()["detail"]
    assert fake_openai.script.requests == [] and fake_anthropic.script.requests == []


async def test_at_tier_none_the_local_model_still_serves_cortex_but_a_named_cloud_model_is_refused(
    gateway_factory: Any, wired: dict[str, Any], publish: Any, fake_local: Any, fake_openai: Any
) -> None:
    await publish("none")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    # A cloud model named outright is refused even though the local model could have answered instead.
    cloud = await _complete(gateway, CORTEX, model="groq/llama-3.1-8b-instant")
    assert cloud.status_code == 429 and "budget" in cloud.json()["detail"]
    by_task = await _complete(gateway, CORTEX, task_type="planning")
    assert by_task.status_code == 200, by_task.text
    assert by_task.json()["model"] == LOCAL_MODEL
    named = await _complete(gateway, CORTEX, model=LOCAL_MODEL)
    assert named.status_code == 200 and named.json()["model"] == LOCAL_MODEL
    assert fake_openai.script.requests == []


async def test_v1_chat_completions_from_cortex_is_held_to_the_budget_tier(
    gateway_factory: Any, wired: dict[str, Any], publish: Any
) -> None:
    await publish("mid")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    body = {"model": "anthropic/claude-sonnet-4-6", "messages": USER}
    response = await gateway.client.post("/v1/chat/completions", json=body, headers=CORTEX)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"

    await publish("none")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    refused = await gateway.client.post("/v1/chat/completions", json=body, headers=CORTEX)
    assert refused.status_code == 429 and "budget" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"]


async def test_calls_not_marked_as_cortex_by_the_service_are_not_held_to_the_budget(
    gateway_factory: Any, wired: dict[str, Any], publish: Any, admin_headers: dict[str, str]
) -> None:
    await publish("none")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    best = {"model": "anthropic/claude-sonnet-4-6"}
    for headers in (SERVICE, {**admin_headers, "X-Nova-Caller": "cortex"}):
        response = await _complete(gateway, headers, **best)
        assert response.status_code == 200, response.text
        assert response.json()["model"] == "anthropic/claude-sonnet-4-6"
    # A local caller of /v1 (auth off) cannot be held by claiming to be cortex without the service token.
    v1 = await gateway.client.post(
        "/v1/chat/completions", json={**best, "messages": USER}, headers={"X-Nova-Caller": "cortex"}
    )
    assert v1.status_code == 200 and v1.json()["model"] == "anthropic/claude-sonnet-4-6"


async def test_a_missing_or_unreadable_budget_tier_restricts_nothing(
    gateway_factory: Any, wired: dict[str, Any], publish: Any
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    response = await _complete(gateway, CORTEX, task_type="planning")
    assert response.status_code == 200 and response.json()["model"] == "anthropic/claude-sonnet-4-6"
    await publish("bankrupt")
    other = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    response = await _complete(other, CORTEX, task_type="planning")
    assert response.status_code == 200 and response.json()["model"] == "anthropic/claude-sonnet-4-6"


async def test_a_wrong_service_token_on_v1_is_refused_with_401(
    gateway_factory: Any, wired: dict[str, Any]
) -> None:
    gateway = await gateway_factory(**wired)
    response = await gateway.client.post(
        "/v1/chat/completions",
        json={"model": "openai/gpt-4o-mini", "messages": USER},
        headers={"X-Service-Token": "not-the-token-0123456789", "X-Nova-Caller": "cortex"},
    )
    assert response.status_code == 401


def test_retry_after_at_tier_none_counts_down_to_the_next_utc_midnight() -> None:
    from datetime import UTC, datetime

    from llm_gateway.routing.budget import seconds_until_utc_midnight

    assert seconds_until_utc_midnight(datetime(2026, 12, 4, 23, 59, 30, tzinfo=UTC)) == 30
    assert seconds_until_utc_midnight(datetime(2026, 12, 4, 0, 0, 0, tzinfo=UTC)) == 86_400


async def test_a_cloud_model_no_tier_lists_counts_as_best_and_is_downgraded_at_tier_mid(
    gateway_factory: Any, wired: dict[str, Any], publish: Any, fake_openai: Any
) -> None:
    await publish("mid")
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    response = await _complete(gateway, CORTEX, model="openai/o3-unlisted-preview")
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert all(r["model"] != "o3-unlisted-preview" for r in fake_openai.script.requests)
