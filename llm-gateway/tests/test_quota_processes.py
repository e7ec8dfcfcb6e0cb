"""A provider's daily quota holds across two real gateway processes sharing one Redis."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nova_common.testing import ServiceProcess

QUOTA = 3


@pytest.fixture
def two_gateway_processes(
    gateway_env: dict[str, str], redis_base_url: str, fake_openai: Any, tmp_path: Path
) -> Iterator[list[ServiceProcess]]:
    """`python -m llm_gateway` twice on distinct ports, Groq (quota 3) on the fake OpenAI server."""
    env = {
        # The rest of the environment is the test's own: gateway_env removed every provider credential.
        "REDIS_URL": redis_base_url,
        "GROQ_API_KEY": "gsk-test-groq-key-0123456789",
        "GROQ_BASE_URL": f"{fake_openai.url}/v1",
        "PROVIDER_DAILY_QUOTAS": json.dumps({"groq": QUOTA}),
        "LLM_ROUTING_STRATEGY": "cloud-only",
        "INFERENCE_BACKEND": "none",
        "ORCHESTRATOR_URL": "http://127.0.0.1:9",
        "REQUIRE_AUTH": "false",  # the test calls from loopback as the machine's single user
        "LOG_LEVEL": "WARNING",
    }
    gateways = [ServiceProcess("llm_gateway", env, tmp_path, ready_path="/health/ready") for _ in range(2)]
    try:
        for gateway in gateways:
            gateway.start(ready_within=120)
        yield gateways
    finally:
        for gateway in gateways:
            gateway.stop()


def test_two_gateway_processes_admit_exactly_the_quota_together_then_answer_429_with_retry_after(
    two_gateway_processes: list[ServiceProcess], fake_openai: Any
) -> None:
    body = {"model": "groq/llama-3.3-70b-versatile", "messages": [{"role": "user", "content": "count me"}]}
    answers: list[tuple[int, httpx.Response]] = []
    for turn in range(8):
        index = turn % 2
        response = httpx.post(
            f"{two_gateway_processes[index].url}/v1/chat/completions", json=body, timeout=30
        )
        answers.append((index, response))

    statuses = [response.status_code for _, response in answers]
    assert statuses == [200] * QUOTA + [429] * (8 - QUOTA), [r.text for _, r in answers]
    # Both processes served part of the quota and both refused once it was spent.
    assert {index for index, r in answers if r.status_code == 200} == {0, 1}
    assert {index for index, r in answers if r.status_code == 429} == {0, 1}
    assert len(fake_openai.script.requests) == QUOTA
    refused = answers[-1][1]
    assert 0 < int(refused.headers["Retry-After"]) <= 86_400
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "daily quota of 3" in refused.json()["error"]["message"]
