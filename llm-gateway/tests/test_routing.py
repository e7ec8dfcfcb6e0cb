"""Routing strategies, the fallback chain, provider quotas across processes, and the response cache."""

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis
from fakes import Reply

USER = [{"role": "user", "content": "route me"}]


async def _complete(gateway: Any, headers: dict[str, str], **body: Any) -> Any:
    return await gateway.client.post("/complete", json={"messages": USER, **body}, headers=headers)


async def test_local_first_falls_back_to_the_cloud_when_the_local_model_fails_with_500(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    fake_openai: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="local-first")
    fake_local.script.push(Reply(status=500, error="llama.cpp crashed"))
    fake_openai.script.push(Reply(content="cloud answer"))
    response = await _complete(gateway, service_headers)
    assert response.status_code == 200, response.text
    assert response.json()["content"] == "cloud answer"
    # Groq comes first in the cloud chain; the answer names the model that really answered.
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert len(fake_local.script.requests) == 1


async def test_fallback_moves_on_after_a_429_from_the_requested_provider(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_openai: Any,
    fake_local: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="local-first")
    fake_openai.script.push(Reply(status=429, error="slow down", retry_after=7))
    fake_local.script.push(Reply(content="local rescue"))
    response = await _complete(gateway, service_headers, model="groq/llama-3.3-70b-versatile")
    assert response.json()["content"] == "local rescue"
    assert response.json()["model"] == "smollm2-135m"


async def test_fallback_moves_on_after_a_timeout(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    fake_openai: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="local-first", provider_read_timeout=0.5)
    fake_local.script.push(Reply(delay=3.0))
    fake_openai.script.push(Reply(content="fast cloud"))
    response = await _complete(gateway, service_headers)
    assert response.json()["content"] == "fast cloud"


async def test_fallback_moves_on_when_a_provider_is_unreachable(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_openai: Any,
    fake_anthropic: Any,
    service_headers: dict[str, str],
) -> None:
    unreachable = {**wired, "groq_base_url": "http://127.0.0.1:9/v1"}
    gateway = await gateway_factory(**unreachable, llm_routing_strategy="cloud-only")
    response = await _complete(gateway, service_headers, model="groq/llama-3.3-70b-versatile")
    assert response.status_code == 200
    # Next in the cloud chain after Groq (free tiers, subscriptions, then paid) is Anthropic.
    assert response.json()["model"] == "anthropic/claude-sonnet-4-6"
    assert fake_openai.script.requests == []


async def test_every_provider_failing_is_503_listing_each_reason(
    gateway_factory: Any, fake_local: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(local_model_url=fake_local.url, llm_routing_strategy="local-only")
    fake_local.script.push(Reply(status=503, error="loading model"))
    response = await _complete(gateway, service_headers)
    assert response.status_code == 503
    assert "loading model" in response.json()["detail"]


async def test_cloud_only_never_calls_the_local_model(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    fake_openai: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    response = await _complete(gateway, service_headers, model="smollm2-135m")
    assert response.status_code == 200
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert fake_local.script.requests == []


async def test_local_only_serves_a_cloud_model_request_with_the_local_model(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    fake_openai: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="local-only")
    response = await _complete(gateway, service_headers, model="groq/llama-3.3-70b-versatile")
    assert response.json()["model"] == "smollm2-135m"
    assert fake_openai.script.requests == []


async def test_cloud_first_prefers_the_cloud_without_a_model(
    gateway_factory: Any, wired: dict[str, Any], fake_local: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")
    response = await _complete(gateway, service_headers)
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert fake_local.script.requests == []


async def test_routing_strategy_written_to_redis_takes_effect_without_restart(
    gateway_factory: Any, wired: dict[str, Any], redis_base_url: str, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="local-first")
    assert (await _complete(gateway, service_headers)).json()["model"] == "smollm2-135m"
    redis = aioredis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1")
    try:
        # How the orchestrator stores config values: JSON-encoded.
        await redis.set("nova:config:llm.routing_strategy", json.dumps("cloud-only"))
    finally:
        await redis.aclose()
    for _ in range(50):
        if (await _complete(gateway, service_headers)).json()["model"] != "smollm2-135m":
            break
        await asyncio.sleep(0.1)
    assert (await _complete(gateway, service_headers)).json()["model"] == "groq/llama-3.3-70b-versatile"


async def test_draining_local_backend_gets_no_new_requests(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_local: Any,
    service_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="local-first")
    await gateway.client.patch("/config", json={"inference_state": "draining"}, headers=admin_headers)
    response = await _complete(gateway, service_headers)
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert fake_local.script.requests == []


async def test_daily_quota_is_shared_by_two_gateway_apps_through_redis_and_answers_429_with_retry_after(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    """Two app instances in this process, sharing only Redis; the same with two real gateway processes is
    `test_quota_processes.py`, and with three behind the stack `tests/test_replicas.py`."""
    only_groq = {**wired, "openai_api_key": "", "anthropic_api_key": "", "llm_routing_strategy": "cloud-only"}
    first = await gateway_factory(**only_groq, provider_daily_quotas={"groq": 3})
    second = await gateway_factory(**only_groq, provider_daily_quotas={"groq": 3})
    statuses = []
    for gateway in (first, second, first, second, first):
        response = await _complete(gateway, service_headers, model="groq/llama-3.3-70b-versatile")
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert len(fake_openai.script.requests) == 3
    assert 0 < int(response.headers["Retry-After"]) <= 86_400
    assert "daily quota" in response.json()["detail"]


async def test_daily_quota_admits_exactly_the_limit_under_concurrent_requests(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    only_groq = {**wired, "openai_api_key": "", "anthropic_api_key": "", "llm_routing_strategy": "cloud-only"}
    gateways = [await gateway_factory(**only_groq, provider_daily_quotas={"groq": 5}) for _ in range(2)]
    responses = await asyncio.gather(
        *(
            _complete(gateways[i % 2], service_headers, model="groq/llama-3.3-70b-versatile")
            for i in range(12)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 7


async def test_temperature_zero_request_is_served_from_cache_the_second_time(
    gateway_factory: Any, wired: dict[str, Any], fake_local: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    first = await _complete(gateway, service_headers, temperature=0, metadata={"agent_id": "a1"})
    second = await _complete(gateway, service_headers, temperature=0, metadata={"agent_id": "a2"})
    assert first.json()["cached"] is False
    assert second.json()["cached"] is True
    assert second.json()["content"] == first.json()["content"]
    assert len(fake_local.script.requests) == 1
    stats = (await gateway.client.get("/v1/inference/stats")).json()
    assert (stats["cache_hits"], stats["cache_misses"]) == (1, 1)


async def test_non_zero_temperature_is_never_cached(
    gateway_factory: Any, wired: dict[str, Any], fake_local: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    for _ in range(2):
        response = await _complete(gateway, service_headers, temperature=0.7)
        assert response.json()["cached"] is False
    assert len(fake_local.script.requests) == 2


async def test_a_default_model_the_gateway_cannot_route_is_refused(
    gateway_factory: Any, wired: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    refused = await gateway.client.patch("/config", json={"default_chat_model": "00"}, headers=admin_headers)
    assert refused.status_code == 400 and "GET /models" in refused.json()["detail"]
    assert (await gateway.client.get("/config", headers=admin_headers)).json()["default_chat_model"] is None
    for model in ("smollm2-135m", "local/smollm2-135m", "groq/any-new-model"):
        accepted = await gateway.client.patch(
            "/config", json={"default_chat_model": model}, headers=admin_headers
        )
        assert accepted.status_code == 200 and accepted.json()["default_chat_model"] == model


def test_the_contract_lists_exactly_the_catalog_cloud_providers() -> None:
    from llm_gateway.providers.catalog import CLOUD_PROVIDERS
    from nova_contracts.llm import CLOUD_MODEL_PROVIDERS

    # The orchestrator accepts `<slug>/<model>` settings by this list without asking the gateway.
    assert {spec.slug for spec in CLOUD_PROVIDERS} == set(CLOUD_MODEL_PROVIDERS)


async def test_a_default_model_that_is_not_served_does_not_fail_requests_naming_none(
    gateway_factory: Any, wired: dict[str, Any], service_headers: dict[str, str], redis_base_url: str
) -> None:
    # Issue 13: `"00"` left in the shared config made every chat fail with "unknown model '00'".
    redis = aioredis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1", decode_responses=True)
    try:
        await redis.set("nova:config:llm.default_chat_model", json.dumps("00"))
        gateway = await gateway_factory(**wired, llm_routing_strategy="local-first")
        response = await _complete(gateway, service_headers)
        named = await gateway.client.post(
            "/complete",
            json={"messages": [{"role": "user", "content": "hi"}], "model": "00"},
            headers=service_headers,
        )
    finally:
        await redis.delete("nova:config:llm.default_chat_model")
        await redis.aclose()
    assert response.status_code == 200 and response.json()["model"] == "smollm2-135m"
    assert named.status_code == 400 and "unknown model '00'" in named.json()["detail"]
