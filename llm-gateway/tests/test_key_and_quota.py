"""An `sk-nova` key's per-minute window and a provider's daily quota: counted together in one Redis round
trip, in both or in neither (`nova_common.ratelimit.SlidingWindowLimiter.admit_all`)."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from fakes import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nova_common.auth import hash_api_key
from nova_common.credentials import key_window

USER = [{"role": "user", "content": "count me"}]
KEY = "sk-nova-joint-window-key-abcdefghijklmnop"
KEY_ID = "6f1c2d3e-4b5a-4c6d-8e7f-901234567890"
GROQ = "groq/llama-3.3-70b-versatile"
QUOTA_WINDOW = "nova:ratelimit:groq"


class _KeyValidator:
    """Plays the orchestrator's `/api/v1/keys/validate`: KEY is valid with the per-minute limit set here."""

    def __init__(self) -> None:
        self.rate_limit_rpm = 60
        self.app = Starlette(routes=[Route("/api/v1/keys/validate", self.validate)])

    async def validate(self, request: Request) -> Response:
        if request.query_params["key_hash"] != hash_api_key(KEY):
            return JSONResponse({"valid": False})
        return JSONResponse(
            {"valid": True, "key_id": KEY_ID, "name": "joint", "rate_limit_rpm": self.rate_limit_rpm}
        )


@pytest.fixture
def key_validator() -> Iterator[tuple[_KeyValidator, str]]:
    validator = _KeyValidator()
    with serve_in_thread(validator.app) as live:
        yield validator, live.url


@pytest.fixture
async def config_db(redis_base_url: str) -> AsyncIterator[aioredis.Redis]:
    # The gateway's own DB 1, where both the key windows and the provider quotas live.
    redis = aioredis.Redis.from_url(redis_base_url.rsplit("/", 1)[0] + "/1")
    yield redis
    await redis.aclose()


def _only_groq(wired: dict[str, Any], orchestrator_url: str, quota: int) -> dict[str, Any]:
    return {
        **wired,
        "openai_api_key": "",
        "anthropic_api_key": "",
        "llm_routing_strategy": "cloud-only",
        "provider_daily_quotas": {"groq": quota},
        "require_auth": True,
        "orchestrator_url": orchestrator_url,
    }


async def _chat(gateway: Any, *, stream: bool = False) -> Any:
    return await gateway.client.post(
        "/v1/chat/completions",
        json={"model": GROQ, "messages": USER, "temperature": 0.7, "stream": stream},
        headers={"Authorization": f"Bearer {KEY}"},
    )


async def test_a_request_refused_by_the_provider_quota_does_not_spend_the_keys_window(
    gateway_factory: Any, wired: dict[str, Any], key_validator: Any, config_db: aioredis.Redis
) -> None:
    validator, url = key_validator
    validator.rate_limit_rpm = 5
    gateway = await gateway_factory(**_only_groq(wired, url, quota=1))
    statuses = [(await _chat(gateway)).status_code for _ in range(4)]
    assert statuses == [200, 429, 429, 429]
    # Only the answered request is in the key's window: three refusals by the quota left four slots.
    assert await config_db.zcard(key_window(KEY_ID)) == 1
    assert await config_db.zcard(QUOTA_WINDOW) == 1


async def test_a_request_refused_by_the_key_limit_does_not_spend_the_provider_quota(
    gateway_factory: Any,
    wired: dict[str, Any],
    key_validator: Any,
    config_db: aioredis.Redis,
    fake_openai: Any,
) -> None:
    validator, url = key_validator
    validator.rate_limit_rpm = 1
    gateway = await gateway_factory(**_only_groq(wired, url, quota=10))
    assert (await _chat(gateway)).status_code == 200
    refused = await _chat(gateway)
    assert refused.status_code == 429
    assert "1 requests/minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert await config_db.zcard(QUOTA_WINDOW) == 1
    assert len(fake_openai.script.requests) == 1


async def test_a_keyed_request_checks_key_and_quota_in_one_redis_round_trip(
    gateway_factory: Any, wired: dict[str, Any], key_validator: Any, config_db: aioredis.Redis
) -> None:
    _, url = key_validator
    gateway = await gateway_factory(**_only_groq(wired, url, quota=100))
    assert (await _chat(gateway)).status_code == 200  # the key's validation is cached from here on
    # The usage recorder also runs a script; stopped, it only queues (no Redis call during the request).
    await gateway.services.usage.stop()

    async def scripts_run() -> int:
        stats = await config_db.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("eval", "evalsha"))

    before = await scripts_run()
    assert (await _chat(gateway)).status_code == 200
    assert await scripts_run() - before == 1
    assert await config_db.zcard(key_window(KEY_ID)) == 2
    assert await config_db.zcard(QUOTA_WINDOW) == 2
    gateway.services.usage.start()


async def test_a_stream_over_the_key_limit_is_refused_with_http_429_before_it_starts(
    gateway_factory: Any, wired: dict[str, Any], key_validator: Any, config_db: aioredis.Redis
) -> None:
    validator, url = key_validator
    validator.rate_limit_rpm = 1
    gateway = await gateway_factory(**_only_groq(wired, url, quota=10))
    assert (await _chat(gateway, stream=True)).status_code == 200
    refused = await _chat(gateway, stream=True)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert await config_db.zcard(QUOTA_WINDOW) == 1


async def test_after_a_quota_refusal_the_fallback_provider_counts_the_key_once(
    gateway_factory: Any, wired: dict[str, Any], key_validator: Any, config_db: aioredis.Redis
) -> None:
    _, url = key_validator
    settings = {**_only_groq(wired, url, quota=1), "openai_api_key": wired["openai_api_key"]}
    gateway = await gateway_factory(**settings)
    assert (await _chat(gateway)).status_code == 200
    answered = await _chat(gateway)  # groq's quota is used up: the chain moves on to OpenAI
    assert answered.status_code == 200, answered.text
    assert answered.headers["X-Nova-Provider"] != "groq"
    assert await config_db.zcard(key_window(KEY_ID)) == 2
