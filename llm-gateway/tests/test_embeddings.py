import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from llm_gateway.embeddings.minilm import MiniLMEncoder

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())


def cosine(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def test_numpy_runtime_matches_sentence_transformers_reference_vectors() -> None:
    vectors, _ = MiniLMEncoder().encode([item["text"] for item in REFERENCE["items"]])
    for vector, item in zip(vectors, REFERENCE["items"], strict=True):
        assert cosine(vector, item["vector"]) >= 0.999, item["text"][:40]


async def test_embed_returns_one_384_dim_vector_per_text_and_names_the_model(
    gateway: Any, service_headers: dict[str, str]
) -> None:
    texts = [item["text"] for item in REFERENCE["items"][:3]]
    response = await gateway.client.post("/embed", json={"texts": texts}, headers=service_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "all-MiniLM-L6-v2"
    assert body["dimensions"] == 384
    assert len(body["embeddings"]) == 3
    assert body["input_tokens"] > 0
    for vector, item in zip(body["embeddings"], REFERENCE["items"][:3], strict=True):
        assert cosine(vector, item["vector"]) >= 0.999


async def test_embed_serves_repeated_texts_from_the_content_hash_cache(
    gateway: Any, service_headers: dict[str, str]
) -> None:
    first = await gateway.client.post("/embed", json={"texts": ["alpha", "beta"]}, headers=service_headers)
    second = await gateway.client.post(
        "/embed", json={"texts": ["beta", "alpha", "gamma"]}, headers=service_headers
    )
    assert first.json()["cached_count"] == 0
    assert second.json()["cached_count"] == 2
    assert second.json()["embeddings"][0] == first.json()["embeddings"][1]


async def test_embed_without_service_token_is_rejected_with_401(gateway: Any) -> None:
    response = await gateway.client.post("/embed", json={"texts": ["x"]})
    assert response.status_code == 401


async def test_embed_with_admin_secret_is_accepted(gateway: Any, admin_headers: dict[str, str]) -> None:
    headers = admin_headers
    response = await gateway.client.post("/embed", json={"texts": ["x"]}, headers=headers)
    assert response.status_code == 200


async def test_embed_with_empty_texts_is_422_naming_the_field(
    gateway: Any, service_headers: dict[str, str]
) -> None:
    response = await gateway.client.post("/embed", json={"texts": []}, headers=service_headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "texts"]


async def test_embed_with_unknown_model_is_400(gateway: Any, service_headers: dict[str, str]) -> None:
    response = await gateway.client.post(
        "/embed", json={"texts": ["x"], "model": "nope/embedder"}, headers=service_headers
    )
    assert response.status_code == 400
    assert "all-MiniLM-L6-v2" in response.json()["detail"]


async def test_embed_writes_an_embedding_usage_record_to_the_stream(
    gateway: Any, usage_records: Any, service_headers: dict[str, str]
) -> None:
    await gateway.client.post("/embed", json={"texts": ["hello world"]}, headers=service_headers)
    records = await usage_records(gateway)
    assert records[-1]["kind"] == "embedding"
    assert records[-1]["model"] == "all-MiniLM-L6-v2"
    assert records[-1]["input_tokens"] == 4  # [CLS] hello world [SEP]


def test_openai_sdk_gets_embeddings_in_float_and_base64(live_gateway_factory: object) -> None:
    url = live_gateway_factory()  # type: ignore[operator]
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused-when-auth-is-off")
    reference = REFERENCE["items"][1]
    # The SDK asks for base64 by default and decodes it; ask for floats explicitly too.
    default = client.embeddings.create(model="all-MiniLM-L6-v2", input=[reference["text"]])
    floats = client.embeddings.create(
        model="all-MiniLM-L6-v2", input=reference["text"], encoding_format="float"
    )
    assert default.model == "all-MiniLM-L6-v2"
    assert len(default.data[0].embedding) == 384
    assert cosine(default.data[0].embedding, reference["vector"]) >= 0.999
    assert cosine(floats.data[0].embedding, reference["vector"]) >= 0.999
    assert default.usage.prompt_tokens > 0


async def test_v1_embeddings_base64_decodes_to_the_float_vector(gateway: Any) -> None:
    body = {"model": "all-MiniLM-L6-v2", "input": "hello world", "encoding_format": "base64"}
    response = await gateway.client.post("/v1/embeddings", json=body)
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    vector = np.frombuffer(raw, dtype="<f4")
    assert cosine(vector, REFERENCE["items"][0]["vector"]) >= 0.999


async def test_v1_embeddings_errors_use_openai_error_shape(gateway: Any) -> None:
    response = await gateway.client.post(
        "/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": [1, 2]}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "token-id" in error["message"]
    missing = await gateway.client.post("/v1/embeddings", json={"input": "x"})
    assert missing.status_code == 422
    assert missing.json()["error"]["param"] == "model"


@pytest.mark.parametrize("key", ["sk-nova-doesnotexist"])
async def test_v1_embeddings_with_require_auth_and_unreachable_orchestrator_is_503(
    gateway_factory: object, key: str
) -> None:
    harness: Any = await gateway_factory(require_auth=True)  # type: ignore[operator]
    response = await harness.client.post(
        "/v1/embeddings",
        json={"model": "all-MiniLM-L6-v2", "input": "x"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 503
    missing = await harness.client.post("/v1/embeddings", json={"model": "all-MiniLM-L6-v2", "input": "x"})
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "authentication_error"


async def test_embed_with_a_cloud_model_goes_through_litellm_to_the_provider(
    gateway_factory: Any, wired: dict[str, Any], fake_openai: Any, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(**wired)
    body = {
        "texts": ["one text", "two texts here"],
        "model": "openai/text-embedding-3-small",
        "dimensions": 16,
    }
    response = await gateway.client.post("/embed", json=body, headers=service_headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["model"] == "openai/text-embedding-3-small"
    assert result["dimensions"] == 16 and len(result["embeddings"]) == 2
    assert result["input_tokens"] == 5
    sent = fake_openai.script.last_request
    assert sent["model"] == "text-embedding-3-small" and sent["input"] == ["one text", "two texts here"]
