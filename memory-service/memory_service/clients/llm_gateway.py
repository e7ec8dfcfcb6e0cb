"""Typed calls to the llm-gateway: `POST /embed` for vectors, `POST /complete` for extraction and summaries."""

import httpx
from pydantic import ValidationError

from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient
from nova_contracts.llm import CompleteRequest, CompleteResponse, EmbedRequest, EmbedResponse


class EmbeddingUnavailable(Exception):
    """The gateway could not embed: unreachable, timed out, refused, or answered something unusable."""


class CompletionUnavailable(Exception):
    """The gateway could not complete: unreachable, timed out, refused, or answered something unusable."""


class MemoryGatewayClient:
    def __init__(self, client: ServiceClient, *, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    async def embed(self, texts: list[str], *, model: str | None, dimensions: int | None) -> EmbedResponse:
        body = EmbedRequest(texts=texts, model=model, dimensions=dimensions).model_dump(exclude_none=True)
        try:
            response = await self.client.post("/embed", json=body, timeout=self.timeout)
        except (UpstreamUnavailable, httpx.HTTPError) as exc:
            raise EmbeddingUnavailable(f"llm-gateway: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise EmbeddingUnavailable(f"llm-gateway answered {response.status_code}: {response.text[:300]}")
        try:
            result = EmbedResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise EmbeddingUnavailable(f"llm-gateway sent an invalid EmbedResponse: {exc}") from exc
        if len(result.embeddings) != len(texts):
            raise EmbeddingUnavailable(
                f"llm-gateway returned {len(result.embeddings)} vectors for {len(texts)}"
            )
        return result

    async def complete(self, request: CompleteRequest, *, timeout: float) -> CompleteResponse:  # noqa: ASYNC109
        body = request.model_dump(exclude_none=True, mode="json")
        try:
            response = await self.client.post("/complete", json=body, timeout=timeout)
        except (UpstreamUnavailable, httpx.HTTPError) as exc:
            raise CompletionUnavailable(f"llm-gateway: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise CompletionUnavailable(f"llm-gateway answered {response.status_code}: {response.text[:300]}")
        try:
            return CompleteResponse.model_validate_json(response.content)
        except ValidationError as exc:
            raise CompletionUnavailable(f"llm-gateway sent an invalid CompleteResponse: {exc}") from exc
