"""Cloud embedding models (`openai/text-embedding-3-small`, `gemini/text-embedding-004`, …) through LiteLLM."""

from llm_gateway.providers.catalog import LOCAL_SLUG
from llm_gateway.providers.registry import ProviderRegistry
from llm_gateway.providers.transports import LiteLLMTransport
from nova_common.errors import BadRequest, NotConfigured


class CloudEmbedder:
    def __init__(self, registry: ProviderRegistry, transport: LiteLLMTransport) -> None:
        self.registry = registry
        self.transport = transport

    async def __call__(
        self, model: str, texts: list[str], dimensions: int | None
    ) -> tuple[list[list[float]], int, str]:
        slug, name = self.registry.split(model)
        if slug == LOCAL_SLUG:
            raise BadRequest(f"unknown embedding model {model!r}; the built-in one is 'all-MiniLM-L6-v2'")
        provider = (await self.registry.cloud_providers())[slug]
        if not provider.available:
            raise NotConfigured(f"embedding model {model!r} needs provider {slug}: {provider.reason}")
        target = provider.target(name, self.registry.prices)
        vectors, tokens = await self.transport.embed(target, texts, dimensions)
        return vectors, tokens, slug
