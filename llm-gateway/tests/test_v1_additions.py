"""What clients that reach the gateway only under `/v1` need: health mirrors, `GET /v1/models/resolve`, and a
body cap large enough for images and long contexts."""

import base64
from typing import Any

from nova_common.redis import create_redis
from nova_contracts.cortex import BUDGET_TIER_CONFIG_KEY
from nova_contracts.orchestrator import config_redis_key, encode_config_value

USER = [{"role": "user", "content": "hello"}]
MIB = 1024 * 1024


async def test_v1_health_mirrors_answer_like_the_originals_with_the_same_credentials(
    gateway_factory: Any, wired: dict[str, Any], service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    live = await gateway.client.get("/v1/health/live")
    assert live.status_code == 200 and live.json()["service"] == "llm-gateway"
    ready = await gateway.client.get("/v1/health/ready")
    original = await gateway.client.get("/health/ready")
    assert ready.status_code == original.status_code == 200
    assert {c["name"] for c in ready.json()["checks"]} == {c["name"] for c in original.json()["checks"]}
    assert (await gateway.client.get("/v1/health/providers")).status_code == 401
    providers = await gateway.client.get("/v1/health/providers", headers=service_headers)
    assert providers.status_code == 200
    assert {p["slug"] for p in providers.json()} >= {"local", "groq", "anthropic"}


async def test_resolve_names_the_model_a_request_would_get_and_why(
    gateway_factory: Any, wired: dict[str, Any]
) -> None:
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-first")

    by_tier = (await gateway.client.get("/v1/models/resolve", params={"tier": "best"})).json()
    assert by_tier["model"] == "anthropic/claude-sonnet-4-6" and by_tier["tier"] == "best"
    assert by_tier["strategy"] == "cloud-first" and "tier best" in by_tier["reason"]
    assert [c["model"] for c in by_tier["candidates"]][:2] == [
        "anthropic/claude-sonnet-4-6",
        "openai/gpt-4.1",
    ]
    assert by_tier["candidates"][-1] == {"model": "smollm2-135m", "provider": "local", "local": True}

    by_task = (await gateway.client.get("/v1/models/resolve", params={"task_type": "guardrail"})).json()
    assert by_task["model"] == "groq/llama-3.1-8b-instant" and by_task["tier"] == "cheap"
    assert "task_type guardrail" in by_task["reason"]

    nothing = (await gateway.client.get("/v1/models/resolve")).json()
    assert nothing["tier"] is None and nothing["model"] == nothing["candidates"][0]["model"]
    assert "names no model" in nothing["reason"]

    named = (await gateway.client.get("/v1/models/resolve", params={"model": "openai/gpt-4o-mini"})).json()
    assert named["model"] == "openai/gpt-4o-mini" and named["requested_model"] == "openai/gpt-4o-mini"

    unknown = await gateway.client.get("/v1/models/resolve", params={"model": "no-such-model"})
    assert unknown.status_code == 400 and "unknown model" in unknown.json()["error"]["message"]
    bad_tier = await gateway.client.get("/v1/models/resolve", params={"tier": "premium"})
    assert bad_tier.status_code == 422


async def test_resolve_for_cortex_shows_its_budget_tier_and_what_it_left_out(
    gateway_factory: Any, wired: dict[str, Any], redis_base_url: str, service_headers: dict[str, str]
) -> None:
    config = create_redis("llm-gateway", redis_base_url)
    try:
        await config.set(config_redis_key(BUDGET_TIER_CONFIG_KEY), encode_config_value("mid"))
    finally:
        await config.aclose()
    gateway = await gateway_factory(**wired, llm_routing_strategy="cloud-only")
    cortex = {**service_headers, "X-Nova-Caller": "cortex"}
    answer = await gateway.client.get("/v1/models/resolve", params={"tier": "best"}, headers=cortex)
    assert answer.status_code == 200, answer.text
    resolution = answer.json()
    assert resolution["budget_tier"] == "mid" and resolution["tier"] == "mid"
    assert resolution["model"] == "groq/llama-3.3-70b-versatile"
    assert all(c["provider"] != "anthropic" or "haiku" in c["model"] for c in resolution["candidates"])
    assert any("budget tier mid" in reason for reason in resolution["skipped"])
    # The same question from a caller that is not cortex is not restricted.
    other = (await gateway.client.get("/v1/models/resolve", params={"tier": "best"})).json()
    assert other["budget_tier"] is None and other["model"] == "anthropic/claude-sonnet-4-6"


def _image_message(size: int) -> dict[str, Any]:
    image = base64.b64encode(b"\x89PNG" + b"\0" * size).decode()
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
        ],
    }


async def test_v1_accepts_a_2_mib_chat_body_and_refuses_30_mib_with_413(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any
) -> None:
    gateway = await gateway_factory(**wired)
    two = {"model": "openai/gpt-4o-mini", "messages": [_image_message(3 * MIB // 2)]}
    accepted = await gateway.client.post("/v1/chat/completions", json=two)
    assert accepted.status_code == 200, accepted.text[:300]
    assert len(fake_openai.script.requests[-1]["messages"][0]["content"][1]["image_url"]["url"]) > 2 * MIB

    thirty = {"model": "openai/gpt-4o-mini", "messages": [_image_message(23 * MIB)]}
    refused = await gateway.client.post("/v1/chat/completions", json=thirty)
    assert refused.status_code == 413
    # The Nova API keeps the kit's default cap.
    nova = await gateway.client.post(
        "/complete", json={"messages": [_image_message(3 * MIB // 2)]}, headers={"X-Service-Token": "x"}
    )
    assert nova.status_code == 413
