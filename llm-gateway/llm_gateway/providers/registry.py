"""Which providers are usable now, from the credentials present, and how a model id maps to one of them.

Model ids are `<provider>/<model>` (`groq/llama-3.3-70b-versatile`, `anthropic/claude-sonnet-4-6`,
`claude-max/claude-sonnet-4-6`) or a bare local model name (`smollm2-135m`, `qwen2.5:7b`, also accepted as
`local/<name>` or `ollama/<name>`).
"""

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from llm_gateway.config import Settings
from llm_gateway.providers.catalog import (
    BY_SLUG,
    CLOUD_FALLBACK_ORDER,
    CLOUD_PROVIDERS,
    LOCAL_SLUG,
    ProviderSpec,
)
from llm_gateway.providers.local import LocalSlot, LocalStatus, auth_headers
from llm_gateway.providers.pricing import DEFAULT_CLOUD_CONTEXT_WINDOW, PriceMap
from llm_gateway.providers.transports import Target
from nova_contracts.llm import ModelCapability, ModelInfo, ProviderModel, ProviderStatus, ProviderType

log = structlog.get_logger("llm_gateway.providers")

LOCAL_PREFIXES = ("local/", "ollama/")


@dataclass
class CloudProvider:
    spec: ProviderSpec
    available: bool
    reason: str | None
    api_key: str = ""
    base_url: str = ""
    default_model: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    daily_quota: int | None = None

    def target(self, model: str, prices: PriceMap) -> Target:
        spec = self.spec
        return Target(
            provider=spec.slug,
            model=model,
            gateway_model=f"{spec.slug}/{model}",
            transport=spec.wire,
            base_url=self.base_url,
            litellm_model=f"{spec.litellm_prefix}/{model}",
            price_prefix=spec.litellm_prefix,
            api_key=self.api_key,
            headers=self.headers,
            extra=dict(self.extra),
            context_window=prices.context_window(spec.litellm_prefix, model) or DEFAULT_CLOUD_CONTEXT_WINDOW,
            daily_quota=self.daily_quota,
        )


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.expanduser().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _claude_token(settings: Settings) -> tuple[str, str | None]:
    token = settings.claude_code_oauth_token.get_secret_value()
    if token:
        return token, None
    data = _read_json(settings.claude_credentials_file)
    oauth = data.get("claudeAiOauth") if data else None
    if isinstance(oauth, dict) and isinstance(oauth.get("accessToken"), str):
        return str(oauth["accessToken"]), None
    return "", (
        "no Claude Code OAuth token: run `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN, or sign in with "
        f"Claude Code so {settings.claude_credentials_file} exists"
    )


def _chatgpt_auth_file(settings: Settings) -> tuple[str, str | None]:
    token = settings.chatgpt_access_token.get_secret_value()
    if token:
        # LiteLLM's ChatGPT provider reads its token from an auth file; write one only this process reads.
        directory = Path(tempfile.mkdtemp(prefix="nova-chatgpt-"))
        path = directory / "auth.json"
        path.write_text(json.dumps({"access_token": token}))
        os.chmod(path, 0o600)
        return str(path), None
    path = settings.chatgpt_auth_file.expanduser()
    if _read_json(path):
        return str(path), None
    return "", (
        f"no ChatGPT/Codex token: run `codex login` (creates {settings.chatgpt_auth_file}) or set CHATGPT_ACCESS_TOKEN"
    )


def build_cloud_providers(settings: Settings) -> dict[str, CloudProvider]:
    providers: dict[str, CloudProvider] = {}
    quotas = settings.provider_daily_quotas
    for spec in CLOUD_PROVIDERS:
        slug_env = spec.slug.replace("-", "_")
        base_url = (getattr(settings, f"{slug_env}_base_url", "") or spec.default_base_url).rstrip("/")
        default_model = getattr(settings, f"default_{slug_env}_model", "") or (
            spec.models[0] if spec.models else ""
        )
        quota = quotas.get(spec.slug, spec.daily_quota)
        provider = CloudProvider(
            spec, False, None, base_url=base_url, default_model=default_model, daily_quota=quota
        )
        if spec.slug == "claude-max":
            provider.api_key, provider.reason = _claude_token(settings)
        elif spec.slug == "chatgpt":
            auth_file, provider.reason = _chatgpt_auth_file(settings)
            if auth_file:
                provider.extra = {"chatgpt_auth_file": auth_file}
            if settings.chatgpt_base_url:
                provider.base_url = settings.chatgpt_base_url.rstrip("/")
            else:
                provider.base_url = ""  # LiteLLM's own endpoint for it
        elif spec.slug == "custom":
            provider.base_url = settings.custom_llm_url.rstrip("/")
            provider.headers = auth_headers(settings.custom_llm_auth_header.get_secret_value())
            if not provider.base_url:
                provider.reason = "CUSTOM_LLM_URL is not set"
            elif not provider.base_url.endswith("/v1"):
                provider.base_url += "/v1"
        else:
            field_name = "github_token" if spec.slug == "github" else f"{slug_env}_api_key"
            provider.api_key = getattr(settings, field_name).get_secret_value()
            if not provider.api_key:
                provider.reason = f"{spec.auth_methods[0]} is not set"
        if spec.slug in ("anthropic", "gemini") and not getattr(settings, f"{slug_env}_base_url"):
            provider.base_url = ""  # LiteLLM knows their endpoints
        provider.available = provider.reason is None
        providers[spec.slug] = provider
    return providers


class ProviderRegistry:
    def __init__(self, settings: Settings, local: LocalSlot, prices: PriceMap) -> None:
        self.settings = settings
        self.local = local
        self.prices = prices
        self.cloud = build_cloud_providers(settings)
        for provider in self.cloud.values():
            log.info(
                "provider_registered" if provider.available else "provider_disabled",
                provider=provider.spec.slug,
                reason=provider.reason,
            )

    def split(self, model_id: str) -> tuple[str, str]:
        """(provider slug, provider's model id); bare names belong to the local slot."""
        for prefix in LOCAL_PREFIXES:
            if model_id.startswith(prefix):
                return LOCAL_SLUG, model_id[len(prefix) :]
        slug, sep, rest = model_id.partition("/")
        if sep and slug in BY_SLUG and rest:
            return slug, rest
        return LOCAL_SLUG, model_id

    def cloud_defaults(self) -> list[Target]:
        """One target per available cloud provider (its default model), in fallback order."""
        targets = []
        for slug in CLOUD_FALLBACK_ORDER:
            provider = self.cloud[slug]
            if provider.available and provider.default_model:
                targets.append(provider.target(provider.default_model, self.prices))
        return targets

    async def statuses(self, *, refresh: bool = False) -> list[ProviderStatus]:
        local = await self.local.status(refresh=refresh)
        result = [self._local_status(local)]
        for provider in self.cloud.values():
            spec = provider.spec
            models = list(dict.fromkeys([provider.default_model, *spec.models]))
            result.append(
                ProviderStatus(
                    slug=spec.slug,
                    name=spec.name,
                    type=spec.type,
                    available=provider.available,
                    reason=provider.reason,
                    auth_methods=list(spec.auth_methods),
                    daily_quota=provider.daily_quota,
                    models=[
                        ProviderModel(id=f"{spec.slug}/{m}", registered=provider.available)
                        for m in models
                        if m
                    ],
                )
            )
        return result

    def _local_status(self, local: LocalStatus) -> ProviderStatus:
        return ProviderStatus(
            slug=LOCAL_SLUG,
            name=f"Local model slot ({local.backend.value} at {local.url})",
            type=ProviderType.LOCAL,
            available=local.available,
            reason=local.reason,
            auth_methods=["none", "inference.auth_header"],
            models=[ProviderModel(id=m, registered=local.available) for m in local.models],
        )

    async def model_infos(self) -> list[ModelInfo]:
        """Every model id a request may name now: the local slot's models and each usable cloud model."""
        local = await self.local.status()
        infos = []
        if local.available:
            for model in local.models:
                infos.append(
                    ModelInfo(
                        id=model,
                        provider=LOCAL_SLUG,
                        capabilities=[
                            ModelCapability.CHAT,
                            ModelCapability.STREAMING,
                            ModelCapability.STRUCTURED_OUTPUT,
                        ],
                        context_window=self.local.context_window,
                        max_output_tokens=self.local.context_window,
                        cost_per_input_token=0.0,
                        cost_per_output_token=0.0,
                    )
                )
        for provider in self.cloud.values():
            if not provider.available:
                continue
            spec = provider.spec
            for model in dict.fromkeys(m for m in (provider.default_model, *spec.models) if m):
                window = (
                    self.prices.context_window(spec.litellm_prefix, model) or DEFAULT_CLOUD_CONTEXT_WINDOW
                )
                subscription = spec.type is ProviderType.SUBSCRIPTION
                infos.append(
                    ModelInfo(
                        id=f"{spec.slug}/{model}",
                        provider=spec.slug,
                        capabilities=[
                            ModelCapability.CHAT,
                            ModelCapability.STREAMING,
                            ModelCapability.FUNCTION_CALLING,
                            ModelCapability.STRUCTURED_OUTPUT,
                        ],
                        context_window=window,
                        max_output_tokens=min(window, 32_768),
                        cost_per_input_token=0.0
                        if subscription
                        else self.prices.cost_usd(spec.litellm_prefix, model, 1, 0),
                        cost_per_output_token=0.0
                        if subscription
                        else self.prices.cost_usd(spec.litellm_prefix, model, 0, 1),
                    )
                )
        return infos
