"""The gateway passes on only the request parameters it understands (issue 13, attack 2).

A field such as `base_url` used to reach LiteLLM's keyword arguments, which sent the stored provider key to
whatever address the caller named. Each test points that field at a loopback listener and checks that the
listener never sees a connection.
"""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fakes import Reply

USER = [{"role": "user", "content": "hello gateway"}]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A socket that accepts connections but never answers; `connections(listener)` counts what arrived."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


def connections(sock: socket.socket) -> int:
    # The gateway answers only after its upstream call: a connection it made is already in the backlog.
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
async def gateway(gateway_factory: Any, wired: dict[str, Any]) -> Any:
    # A short read timeout only bounds how long today's leaking gateway waits on the silent listener.
    return await gateway_factory(**wired, provider_read_timeout=3)


async def test_base_url_in_a_chat_request_is_refused_and_the_anthropic_key_goes_nowhere(
    gateway: Any, listener: socket.socket
) -> None:
    response = await gateway.client.post(
        "/v1/chat/completions",
        json={"model": "anthropic/claude-haiku-4-5", "messages": USER, "base_url": url_of(listener)},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "base_url"
    assert "base_url" in response.json()["error"]["message"]
    assert connections(listener) == 0


@pytest.mark.parametrize(
    "field",
    ["api_base", "extra_headers", "api_key", "custom_llm_provider", "extra_body", "timeout", "organization"],
)
async def test_fields_that_redirect_or_authenticate_the_upstream_are_refused_with_400_naming_them(
    gateway: Any, listener: socket.socket, field: str
) -> None:
    values: dict[str, Any] = {
        "api_base": url_of(listener),
        "extra_headers": {"x-api-key": "attacker"},
        "api_key": "sk-attacker-key-000000",
        "custom_llm_provider": "openai",
        "extra_body": {"base_url": url_of(listener)},
        "timeout": 1,
        "organization": "org-attacker",
    }
    for stream in (False, True):
        response = await gateway.client.post(
            "/v1/chat/completions",
            json={
                "model": "anthropic/claude-haiku-4-5",
                "messages": USER,
                "stream": stream,
                field: values[field],
            },
        )
        assert response.status_code == 400, (stream, response.text)
        assert response.json()["error"]["param"] == field
    assert connections(listener) == 0


async def test_an_unknown_chat_parameter_is_refused_with_400_not_passed_through(
    gateway: Any, fake_openai: Any
) -> None:
    response = await gateway.client.post(
        "/v1/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": USER, "lasers": True}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Unrecognized request argument supplied: lasers",
        "type": "invalid_request_error",
        "code": "unsupported_parameter",
        "param": "lasers",
    }
    assert fake_openai.script.requests == []


async def test_allow_listed_parameters_reach_the_provider_and_nova_metadata_does_not(
    gateway: Any, fake_openai: Any
) -> None:
    fake_openai.script.push(Reply(content="ok"))
    body = {
        "model": "openai/gpt-4o-mini",
        "messages": USER,
        "top_p": 0.5,
        "stop": ["END"],
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "logit_bias": {"50256": -100},
        "parallel_tool_calls": False,
        "metadata": {"agent_id": "a1"},
    }
    response = await gateway.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    sent = fake_openai.script.last_request
    assert {k: sent[k] for k in ("top_p", "stop", "seed", "presence_penalty", "logit_bias")} == {
        "top_p": 0.5,
        "stop": ["END"],
        "seed": 7,
        "presence_penalty": 0.1,
        "logit_bias": {"50256": -100},
    }
    assert "metadata" not in sent


async def test_embeddings_refuse_upstream_fields(gateway: Any, listener: socket.socket) -> None:
    response = await gateway.client.post(
        "/v1/embeddings",
        json={"model": "openai/text-embedding-3-small", "input": "hi", "api_base": url_of(listener)},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "api_base"
    assert connections(listener) == 0


@pytest.mark.parametrize("path", ["/complete", "/stream"])
async def test_internal_chat_routes_refuse_upstream_fields_naming_them(
    gateway: Any, listener: socket.socket, service_headers: dict[str, str], path: str
) -> None:
    response = await gateway.client.post(
        path,
        json={"model": "anthropic/claude-haiku-4-5", "messages": USER, "base_url": url_of(listener)},
        headers=service_headers,
    )
    # The Nova API answers malformed bodies as every Nova service does: 422 listing the field.
    assert response.status_code == 422 and "base_url" in response.text
    assert connections(listener) == 0


async def test_internal_embed_refuses_upstream_fields(
    gateway: Any, listener: socket.socket, service_headers: dict[str, str]
) -> None:
    response = await gateway.client.post(
        "/embed", json={"texts": ["hi"], "api_base": url_of(listener)}, headers=service_headers
    )
    assert response.status_code == 422 and "api_base" in response.text
    assert connections(listener) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"response_format": {"type": "json_schema", "json_schema": "x"}},
        {"response_format": {"type": "bogus"}},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": [{"type": "weird"}]}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
        {"messages": [{"role": "assistant", "tool_calls": [{"id": 1}]}]},
        {"messages": [{"role": "tool", "content": "no call id"}]},
        {"messages": [{}]},
        {"tools": [{"type": "function", "function": {"name": "x", "parameters": "not a schema"}}]},
        {"tool_choice": {"type": "function", "function": {"name": "absent"}}},
        {"max_tokens": 10**12},
        {"seed": 10**30},
        {"logit_bias": {"not-a-token": 5}},
    ],
)
async def test_malformed_chat_input_is_refused_with_422_before_any_provider_is_called(
    gateway: Any, fake_local: Any, fake_anthropic: Any, change: dict[str, Any]
) -> None:
    for model in ("smollm2-135m", "anthropic/claude-sonnet-4-6"):
        body = {"model": model, "messages": USER, **change}
        response = await gateway.client.post("/v1/chat/completions", json=body)
        assert response.status_code == 422, (model, response.text)
        assert response.json()["error"]["type"] == "invalid_request_error"
    assert fake_local.script.requests == [] and fake_anthropic.script.requests == []


async def test_with_auth_off_a_placeholder_key_through_a_proxy_is_refused(
    gateway: Any, fake_local: Any
) -> None:
    body = {"model": "smollm2-135m", "messages": USER}
    placeholder = {"Authorization": "Bearer sk-local"}
    local = await gateway.client.post("/v1/chat/completions", json=body, headers=placeholder)
    assert local.status_code == 200
    # REQUIRE_AUTH=false trusts only the machine's own user talking to the gateway directly.
    proxied = await gateway.client.post(
        "/v1/chat/completions", json=body, headers={**placeholder, "X-Forwarded-For": "203.0.113.9"}
    )
    assert proxied.status_code == 401 and proxied.json()["error"]["type"] == "authentication_error"


async def test_the_openapi_document_shows_the_openai_error_body_of_v1_routes(gateway: Any) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    for path in ("/v1/chat/completions", "/v1/embeddings"):
        responses = spec["paths"][path]["post"]["responses"]
        for status in ("400", "422"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/OpenAIErrorBody"}, (path, status)
    refused = await gateway.client.post("/v1/chat/completions", json={"model": "x", "messages": []})
    assert refused.status_code == 422 and set(refused.json()["error"]) == {"message", "type", "code", "param"}
