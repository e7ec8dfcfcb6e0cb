"""Gemini and the ChatGPT subscription through real LiteLLM, against fakes speaking their wire formats."""

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import Reply, ToolCallSpec

from nova_common.redis import create_redis
from nova_common.secretbox import seal_config_value
from nova_contracts.orchestrator import config_redis_key

from .conftest import SERVICE_TOKEN

SYSTEM = {"role": "system", "content": "Answer briefly."}
USER = {"role": "user", "content": "name three colours please"}
GEMINI_KEY = "AIza-test-gemini-key-0123456789"
CHATGPT_TOKEN = "chatgpt-test-access-token-0123456789"


def sse_payloads(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


@pytest.fixture
def gemini_wired(fake_gemini: Any) -> dict[str, Any]:
    # LiteLLM appends `models/<model>:<method>` to a custom Gemini base, so the base carries the API version.
    return {
        "gemini_api_key": GEMINI_KEY,
        "gemini_base_url": f"{fake_gemini.url}/v1beta",
        "llm_routing_strategy": "cloud-only",
    }


@pytest.fixture
def chatgpt_wired(fake_chatgpt: Any) -> dict[str, Any]:
    return {
        "chatgpt_access_token": CHATGPT_TOKEN,
        "chatgpt_base_url": f"{fake_chatgpt.url}/backend-api/codex",
        "llm_routing_strategy": "cloud-only",
    }


# ── Gemini ────────────────────────────────────────────────────────────────────────────────────────────


async def test_gemini_completion_calls_generate_content_and_records_usage_and_cost(
    gateway_factory: Any,
    gemini_wired: dict[str, Any],
    fake_gemini: Any,
    service_headers: dict[str, str],
    usage_records: Any,
) -> None:
    gateway = await gateway_factory(**gemini_wired)
    fake_gemini.script.push(Reply(content="Red, green, blue.", prompt_tokens=11, completion_tokens=4))
    body = {"model": "gemini/gemini-2.5-flash", "messages": [SYSTEM, USER], "metadata": {"agent_id": "g1"}}
    response = await gateway.client.post("/complete", json=body, headers=service_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["content"], result["model"], result["provider"]) == (
        "Red, green, blue.",
        "gemini/gemini-2.5-flash",
        "gemini",
    )
    assert (result["input_tokens"], result["output_tokens"]) == (11, 4)
    assert result["cost_usd"] > 0  # LiteLLM's bundled price for gemini-2.5-flash

    assert fake_gemini.fake.calls == ["gemini-2.5-flash:generateContent"]
    assert fake_gemini.script.headers[-1]["x-goog-api-key"] == GEMINI_KEY
    sent = fake_gemini.script.last_request
    assert sent["contents"] == [{"role": "user", "parts": [{"text": USER["content"]}]}]
    # Gemini's JSON takes field names in either case; LiteLLM writes snake_case.
    system = sent.get("systemInstruction") or sent["system_instruction"]
    assert system["parts"] == [{"text": "Answer briefly."}]

    record = (await usage_records(gateway))[-1]
    assert (record["provider"], record["model"], record["agent_id"]) == (
        "gemini",
        "gemini/gemini-2.5-flash",
        "g1",
    )
    assert (record["input_tokens"], record["output_tokens"]) == (11, 4)
    assert record["cost_usd"] == pytest.approx(result["cost_usd"])


async def test_gemini_function_call_comes_back_as_an_openai_tool_call(
    gateway_factory: Any,
    gemini_wired: dict[str, Any],
    fake_gemini: Any,
    service_headers: dict[str, str],
) -> None:
    gateway = await gateway_factory(**gemini_wired)
    fake_gemini.script.push(Reply(tool_calls=[ToolCallSpec("search_memory", {"query": "colours"})]))
    body = {
        "model": "gemini/gemini-2.5-flash",
        "messages": [USER],
        "tools": [{"name": "search_memory", "description": "Search", "parameters": {"type": "object"}}],
    }
    response = await gateway.client.post("/complete", json=body, headers=service_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["finish_reason"] == "tool_calls"
    assert [(c["name"], c["arguments"]) for c in result["tool_calls"]] == [
        ("search_memory", {"query": "colours"})
    ]
    tool = fake_gemini.script.last_request["tools"][0]
    declared = (tool.get("functionDeclarations") or tool["function_declarations"])[0]
    assert declared["name"] == "search_memory"


async def test_gemini_stream_uses_stream_generate_content_and_records_the_final_usage(
    gateway_factory: Any,
    gemini_wired: dict[str, Any],
    fake_gemini: Any,
    usage_records: Any,
) -> None:
    gateway = await gateway_factory(**gemini_wired)
    fake_gemini.script.push(Reply(content="cyan magenta yellow", prompt_tokens=8, completion_tokens=3))
    body = {
        "model": "gemini/gemini-2.5-flash",
        "messages": [USER],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = await gateway.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"])
    assert text == "cyan magenta yellow"
    assert chunks[-1]["usage"]["prompt_tokens"] == 8
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert {c["model"] for c in chunks} == {"gemini/gemini-2.5-flash"}
    assert fake_gemini.fake.calls == ["gemini-2.5-flash:streamGenerateContent"]

    record = (await usage_records(gateway))[-1]
    assert (record["provider"], record["input_tokens"], record["output_tokens"]) == ("gemini", 8, 3)
    assert record["ttft_ms"] is not None


# ── ChatGPT subscription (Codex backend, Responses API) ──────────────────────────────────────────────


async def test_chatgpt_completion_goes_to_the_codex_responses_endpoint_with_the_token(
    gateway_factory: Any,
    chatgpt_wired: dict[str, Any],
    fake_chatgpt: Any,
    service_headers: dict[str, str],
    usage_records: Any,
) -> None:
    gateway = await gateway_factory(**chatgpt_wired)
    fake_chatgpt.script.push(Reply(content="Teal, amber, violet.", prompt_tokens=13, completion_tokens=5))
    body = {"model": "chatgpt/gpt-5.5", "messages": [SYSTEM, USER], "metadata": {"task_id": "t7"}}
    response = await gateway.client.post("/complete", json=body, headers=service_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["content"], result["model"], result["provider"]) == (
        "Teal, amber, violet.",
        "chatgpt/gpt-5.5",
        "chatgpt",
    )
    assert (result["input_tokens"], result["output_tokens"]) == (13, 5)
    assert result["cost_usd"] == 0.0  # flat-rate subscription

    assert fake_chatgpt.script.headers[-1]["authorization"] == f"Bearer {CHATGPT_TOKEN}"
    sent = fake_chatgpt.script.last_request
    assert sent["model"] == "gpt-5.5"
    texts = [
        part.get("text") if isinstance(part, dict) else part
        for item in sent["input"]
        for part in (item["content"] if isinstance(item["content"], list) else [item["content"]])
    ]
    assert USER["content"] in texts

    record = (await usage_records(gateway))[-1]
    assert (record["provider"], record["model"], record["task_id"]) == ("chatgpt", "chatgpt/gpt-5.5", "t7")
    assert (record["input_tokens"], record["output_tokens"], record["cost_usd"]) == (13, 5, 0.0)


async def test_chatgpt_stream_relays_responses_deltas_and_records_usage(
    gateway_factory: Any,
    chatgpt_wired: dict[str, Any],
    fake_chatgpt: Any,
    service_headers: dict[str, str],
    usage_records: Any,
) -> None:
    gateway = await gateway_factory(**chatgpt_wired)
    fake_chatgpt.script.push(Reply(content="one small step", prompt_tokens=6, completion_tokens=3))
    response = await gateway.client.post(
        "/stream", json={"model": "chatgpt/gpt-5.5", "messages": [USER]}, headers=service_headers
    )
    assert response.status_code == 200, response.text
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert "".join(c.get("delta") or "" for c in chunks) == "one small step"
    last = chunks[-1]
    assert (last["finish_reason"], last["input_tokens"], last["output_tokens"]) == ("stop", 6, 3)
    assert last["model"] == "chatgpt/gpt-5.5"
    assert fake_chatgpt.script.streams_finished == 1

    record = (await usage_records(gateway))[-1]
    assert (record["provider"], record["input_tokens"], record["output_tokens"]) == ("chatgpt", 6, 3)
    assert record["ttft_ms"] is not None


async def test_chatgpt_token_from_a_codex_cli_login_file_is_used(
    gateway_factory: Any, fake_chatgpt: Any, service_headers: dict[str, str], tmp_path: Path
) -> None:
    # `codex login` writes ~/.codex/auth.json with the tokens nested; HOME is tmp_path in these tests.
    auth = tmp_path / ".codex" / "auth.json"
    auth.parent.mkdir()
    auth.write_text(
        json.dumps({"OPENAI_API_KEY": None, "tokens": {"access_token": "codex-login-token-4321"}})
    )
    gateway = await gateway_factory(
        chatgpt_base_url=f"{fake_chatgpt.url}/backend-api/codex", llm_routing_strategy="cloud-only"
    )
    response = await gateway.client.post(
        "/complete", json={"model": "chatgpt/gpt-5.5", "messages": [USER]}, headers=service_headers
    )
    assert response.status_code == 200, response.text
    assert fake_chatgpt.script.headers[-1]["authorization"] == "Bearer codex-login-token-4321"


async def test_chatgpt_token_entered_in_the_dashboard_enables_the_subscription(
    gateway_factory: Any, fake_chatgpt: Any, service_headers: dict[str, str], redis_base_url: str
) -> None:
    config_redis = create_redis("llm-gateway", redis_base_url)
    try:
        await config_redis.set(
            config_redis_key("llm.api_key.chatgpt"),
            seal_config_value("dashboard-chatgpt-token-77", SERVICE_TOKEN),
        )
    finally:
        await config_redis.aclose()
    gateway = await gateway_factory(
        chatgpt_base_url=f"{fake_chatgpt.url}/backend-api/codex", llm_routing_strategy="cloud-only"
    )
    response = await gateway.client.post(
        "/complete", json={"model": "chatgpt/gpt-5.5", "messages": [USER]}, headers=service_headers
    )
    assert response.status_code == 200, response.text
    assert fake_chatgpt.script.headers[-1]["authorization"] == "Bearer dashboard-chatgpt-token-77"
