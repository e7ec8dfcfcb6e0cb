"""The chat routes are served ahead of FastAPI's router (api/chat_fast_path.py, the kit's FastPath): the kit's
middleware still applies, and input the fast path does not take is answered by the FastAPI route, as before."""

import json
from typing import Any

USER = [{"role": "user", "content": "hello fast path"}]


async def test_a_chat_completion_carries_the_request_id_and_cors_headers_of_the_kit(
    gateway_factory: Any, wired: dict[str, Any], fake_local: Any
) -> None:
    gateway = await gateway_factory(**wired, cors_allowed_origins="http://localhost:5173")
    response = await gateway.client.post(
        "/v1/chat/completions",
        json={"model": "smollm2-135m", "messages": USER},
        headers={"X-Request-ID": "req-fast-path-1", "Origin": "http://localhost:5173"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "req-fast-path-1"
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert response.json()["model"] == "smollm2-135m"


async def test_a_body_that_is_not_json_is_answered_by_the_route_in_the_openai_error_shape(
    gateway: Any,
) -> None:
    for content, content_type in ((b"{not json", "application/json"), (b"model=x", "text/plain")):
        response = await gateway.client.post(
            "/v1/chat/completions", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["type"] == "invalid_request_error"


async def test_an_unknown_model_is_refused_in_the_openai_error_shape_with_400(
    gateway_factory: Any, wired: dict[str, Any]
) -> None:
    gateway = await gateway_factory(**wired)
    response = await gateway.client.post(
        "/v1/chat/completions", content=json.dumps({"model": "no-such-model", "messages": USER})
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_the_route_stays_in_the_openapi_document(gateway: Any) -> None:
    spec = (await gateway.client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/chat/completions"]["post"]
    assert operation["security"] == [{"ApiKey": []}]
    assert "OpenAIChatCompletionRequest" in json.dumps(operation["requestBody"])


async def test_internal_complete_keeps_the_kit_error_shape_and_its_refusals(
    gateway_factory: Any, wired: dict[str, Any], fake_local: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    body = {"model": "smollm2-135m", "messages": USER}
    refused = await gateway.client.post("/complete", json=body, headers={"X-Request-ID": "req-fast-path-2"})
    assert refused.status_code == 401
    assert refused.json()["request_id"] == "req-fast-path-2" and "internal" in refused.json()["detail"]
    unknown = await gateway.client.post(
        "/complete", json={**body, "model": "no-such-model"}, headers=service_headers
    )
    assert unknown.status_code == 400 and "no-such-model" in unknown.json()["detail"]
    malformed = await gateway.client.post(
        "/complete", json={"messages": "not a list"}, headers=service_headers
    )
    assert malformed.status_code == 422 and malformed.json()["code"] == "validation_error"
    answered = await gateway.client.post("/complete", json=body, headers=service_headers)
    assert answered.status_code == 200, answered.text
    assert answered.json()["model"] == "smollm2-135m"


async def test_a_body_with_a_byte_order_mark_and_non_ascii_text_is_served_and_forwarded_as_sent(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    # The body sent upstream is encoded by pydantic's Rust JSON code (non-ASCII as UTF-8, no longer escaped) and
    # answers are parsed by it, with json.loads for what it refuses (a UTF-8 byte-order mark, say): the text
    # must reach the provider unchanged either way.
    gateway = await gateway_factory(**wired)
    text = "café 😀 — ünïcode"
    body = {"model": "groq/llama-3.3-70b-versatile", "messages": [{"role": "user", "content": text}]}
    for path, headers in (("/v1/chat/completions", {}), ("/complete", service_headers)):
        response = await gateway.client.post(
            path,
            content=b"\xef\xbb\xbf" + json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
        )
        assert response.status_code == 200, response.text
        assert fake_openai.script.last_request["messages"][-1]["content"] == text
