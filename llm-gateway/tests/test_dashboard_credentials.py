"""Provider credentials entered in the dashboard: sealed in Redis DB 1, followed without a restart."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from fakes import Reply
from structlog.testing import capture_logs

from nova_common.redis import create_redis
from nova_common.secretbox import seal_config_value
from nova_common.testing import eventually_async
from nova_contracts.orchestrator import config_redis_key

from .conftest import SERVICE_TOKEN

USER = [{"role": "user", "content": "who holds the key"}]
OPENAI_KEY = config_redis_key("llm.api_key.openai")
GROQ_KEY = config_redis_key("llm.api_key.groq")
ANTHROPIC_KEY = config_redis_key("llm.api_key.anthropic")


@pytest.fixture
async def config_redis(redis_base_url: str) -> AsyncIterator[aioredis.Redis]:
    """Redis DB 1, where the orchestrator mirrors platform settings."""
    client = create_redis("llm-gateway", redis_base_url)
    yield client
    await client.aclose()


async def _provider(gateway: Any, path: str, slug: str) -> dict[str, Any]:
    response = await gateway.client.get(path, headers={"X-Service-Token": "test-service-token-0123456789"})
    assert response.status_code == 200, response.text
    return next(p for p in response.json() if p["slug"] == slug)


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for the gateway's next runtime-config read (CONFIG_REFRESH_SECONDS is 0.2 s in tests)."""
    await eventually_async(check, within=5, what="the gateway following the change in Redis")


async def test_openai_key_set_in_the_dashboard_makes_openai_available_and_removing_it_disables_it(
    gateway_factory: Any,
    fake_openai: Any,
    config_redis: aioredis.Redis,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(
        openai_base_url=f"{fake_openai.url}/v1", llm_routing_strategy="cloud-only"
    )
    before = await _provider(gateway, "/v1/models/discover", "openai")
    assert before["available"] is False
    assert before["reason"] == "OPENAI_API_KEY is not set"

    await config_redis.set(OPENAI_KEY, seal_config_value("sk-from-the-dashboard-0123", SERVICE_TOKEN))

    async def available() -> bool:
        return bool((await _provider(gateway, "/v1/models/discover", "openai"))["available"])

    await _eventually(available)
    assert (await _provider(gateway, "/health/providers", "openai"))["available"] is True
    fake_openai.script.push(Reply(content="keyed"))
    response = await gateway.client.post(
        "/complete", json={"messages": USER, "model": "openai/gpt-4o-mini"}, headers=service_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["content"] == "keyed"
    assert fake_openai.script.headers[-1]["authorization"] == "Bearer sk-from-the-dashboard-0123"

    await config_redis.delete(OPENAI_KEY)

    async def unavailable() -> bool:
        return not await available()

    await _eventually(unavailable)
    health = await _provider(gateway, "/health/providers", "openai")
    assert (health["available"], health["reason"]) == (False, "OPENAI_API_KEY is not set")


async def test_dashboard_key_overrides_the_env_key_and_deleting_it_falls_back_to_the_env_key(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_openai: Any,
    config_redis: aioredis.Redis,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    model = {"messages": USER, "model": "groq/llama-3.3-70b-versatile"}

    async def groq_key_sent() -> str:
        response = await gateway.client.post("/complete", json=model, headers=service_headers)
        assert response.status_code == 200, response.text
        return str(fake_openai.script.headers[-1]["authorization"])

    assert await groq_key_sent() == f"Bearer {wired['groq_api_key']}"
    await config_redis.set(GROQ_KEY, seal_config_value("gsk-dashboard-groq-key-9876", SERVICE_TOKEN))

    async def dashboard_key_used() -> bool:
        return await groq_key_sent() == "Bearer gsk-dashboard-groq-key-9876"

    await _eventually(dashboard_key_used)
    await config_redis.delete(GROQ_KEY)

    async def env_key_used() -> bool:
        return await groq_key_sent() == f"Bearer {wired['groq_api_key']}"

    await _eventually(env_key_used)


async def test_dashboard_key_reaches_a_litellm_provider_in_its_own_header(
    gateway_factory: Any,
    fake_anthropic: Any,
    config_redis: aioredis.Redis,
    service_headers: dict[str, str],
) -> None:
    await config_redis.set(ANTHROPIC_KEY, seal_config_value("sk-ant-dashboard-key-5555", SERVICE_TOKEN))
    gateway = await gateway_factory(anthropic_base_url=fake_anthropic.url, llm_routing_strategy="cloud-only")
    fake_anthropic.script.push(Reply(content="hello from claude"))
    response = await gateway.client.post(
        "/complete", json={"messages": USER, "model": "anthropic/claude-sonnet-4-6"}, headers=service_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["content"] == "hello from claude"
    assert fake_anthropic.script.headers[-1]["x-api-key"] == "sk-ant-dashboard-key-5555"


async def test_key_sealed_with_another_service_token_disables_the_provider_with_a_reason_and_no_secret(
    gateway_factory: Any,
    wired: dict[str, Any],
    fake_openai: Any,
    config_redis: aioredis.Redis,
    service_headers: dict[str, str],
) -> None:
    sealed = seal_config_value("sk-sealed-elsewhere-4242", "a-different-service-token-000")
    await config_redis.set(OPENAI_KEY, sealed)
    with capture_logs() as logs:
        gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
        openai = await _provider(gateway, "/health/providers", "openai")
        # The env key is not used as a silent fallback: the dashboard's value is what the operator meant.
        response = await gateway.client.post(
            "/complete", json={"messages": USER, "model": "openai/gpt-4o-mini"}, headers=service_headers
        )
        discover = (await gateway.client.get("/v1/models/discover")).text

    assert openai["available"] is False
    assert "cannot be read" in openai["reason"]
    assert "NOVA_SERVICE_TOKEN" in openai["reason"]
    assert response.status_code == 200
    assert response.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert all(h["authorization"] != f"Bearer {wired['openai_api_key']}" for h in fake_openai.script.headers)
    disabled = [e for e in logs if e.get("provider") == "openai" and e["event"] == "provider_disabled"]
    assert disabled and "cannot be read" in disabled[-1]["reason"]
    for secret in ("sk-sealed-elsewhere-4242", sealed):
        assert secret not in discover
        assert secret not in repr(logs)


async def test_value_that_is_not_a_sealed_secret_is_reported_not_used(
    gateway_factory: Any, wired: dict[str, Any], config_redis: aioredis.Redis
) -> None:
    await config_redis.set(GROQ_KEY, '"gsk-plain-text-key-1234"')
    gateway = await gateway_factory(**wired)
    groq = await _provider(gateway, "/v1/models/discover", "groq")
    assert groq["available"] is False
    assert "not a sealed secret" in groq["reason"]
    assert "gsk-plain-text-key-1234" not in groq["reason"]
