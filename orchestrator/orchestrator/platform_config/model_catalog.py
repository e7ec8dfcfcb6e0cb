"""The model ids llm-gateway can route now, asked when a setting names a local model (`GET /models`)."""

from typing import Protocol

import httpx
from pydantic import TypeAdapter, ValidationError

from nova_common.errors import UpstreamUnavailable
from nova_common.http import ServiceClient, response_detail
from nova_contracts.llm import ModelInfo

_MODEL_LIST = TypeAdapter(list[ModelInfo])


class ModelCatalog(Protocol):
    async def ids(self) -> frozenset[str]:
        """Every model id a request may name now; raises UpstreamUnavailable when that cannot be known."""
        ...


class GatewayModelCatalog:
    def __init__(self, client: ServiceClient, *, timeout: float = 10.0) -> None:
        self.client = client
        self.timeout = timeout

    async def ids(self) -> frozenset[str]:
        try:
            response = await self.client.get("/models", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"llm-gateway is unreachable ({type(exc).__name__}), so the model cannot be checked"
            ) from exc
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"llm-gateway answered {response.status_code} for its model list: {response_detail(response)}"
            )
        try:
            return frozenset(info.id for info in _MODEL_LIST.validate_json(response.content))
        except ValidationError as exc:
            raise UpstreamUnavailable("llm-gateway sent a malformed model list") from exc
