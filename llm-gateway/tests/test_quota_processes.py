"""A provider's daily quota holds across two real gateway processes sharing one Redis."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import free_port

QUOTA = 3


class GatewayProcess:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _wait_ready(gateway: GatewayProcess, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise AssertionError(f"gateway exited with {gateway.process.returncode}:\n{gateway.log_tail()}")
        try:
            if httpx.get(f"{gateway.url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gateway at {gateway.url} was not ready in {seconds:.0f} s:\n{gateway.log_tail()}")


@pytest.fixture
def two_gateway_processes(
    gateway_env: dict[str, str], redis_base_url: str, fake_openai: Any, tmp_path: Path
) -> Iterator[list[GatewayProcess]]:
    """`python -m llm_gateway` twice on distinct ports, Groq (quota 3) on the fake OpenAI server."""
    gateways: list[GatewayProcess] = []
    try:
        for index in range(2):
            port = free_port()
            env = {
                **os.environ,  # gateway_env removed every provider credential from it
                "PORT": str(port),
                "REDIS_URL": redis_base_url,
                "GROQ_API_KEY": "gsk-test-groq-key-0123456789",
                "GROQ_BASE_URL": f"{fake_openai.url}/v1",
                "PROVIDER_DAILY_QUOTAS": json.dumps({"groq": QUOTA}),
                "LLM_ROUTING_STRATEGY": "cloud-only",
                "INFERENCE_BACKEND": "none",
                "ORCHESTRATOR_URL": "http://127.0.0.1:9",
                "REQUIRE_AUTH": "false",  # the test calls from loopback as the machine's single user
                "LOG_LEVEL": "WARNING",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            }
            log = tmp_path / f"gateway-{index}.log"
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [sys.executable, "-m", "llm_gateway"],
                    env=env,
                    cwd=tmp_path,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            gateways.append(GatewayProcess(process, f"http://127.0.0.1:{port}", log))
        for gateway in gateways:
            _wait_ready(gateway)
        yield gateways
    finally:
        for gateway in gateways:
            gateway.process.terminate()
        for gateway in gateways:
            try:
                gateway.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                gateway.process.kill()
                gateway.process.wait()


def test_two_gateway_processes_admit_exactly_the_quota_together_then_answer_429_with_retry_after(
    two_gateway_processes: list[GatewayProcess], fake_openai: Any
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
