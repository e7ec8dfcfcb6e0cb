"""Which providers are usable now, from the credentials present, and how a model id maps to one of them.

Model ids are `<provider>/<model>` (`groq/llama-3.3-70b-versatile`, `anthropic/claude-sonnet-4-6`,
`claude-max/claude-sonnet-4-6`) or a bare local model name (`smollm2-135m`, `qwen2.5:7b`, also accepted as
`local/<name>` or `ollama/<name>`).

A provider's credential comes from its env var (or credential file), unless the dashboard set one: the
orchestrator mirrors it sealed to `nova:config:llm.api_key.<slug>`, which the runtime config re-reads every few
seconds. A key set there overrides the env var; deleting it falls back to the env var; one this process cannot
open makes the provider unavailable, saying why.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
from llm_gateway.runtime_config import RuntimeConfig, RuntimeConfigStore
from nova_common.errors import BadRequest, NotConfigured
from nova_common.secretbox import SecretUnreadable, open_config_value
from nova_contracts.llm import (
    CLOUD_MODEL_ID_PATTERN,
    LOCAL_MODEL_PREFIXES,
    ModelCapability,
    ModelInfo,
    ProviderModel,
    ProviderStatus,
    ProviderType,
)
from nova_contracts.orchestrator import PROVIDER_KEY_SLUGS, provider_key_setting

log = structlog.get_logger("llm_gateway.providers")

LOCAL_PREFIXES = LOCAL_MODEL_PREFIXES


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
    credential_source: str = "env"  # "env" or "dashboard"
    # Targets built so far, by model: planning runs on every request. A changed credential makes a new
    # CloudProvider (dataclasses.replace), which starts with an empty cache.
    _targets: dict[str, Target] = field(default_factory=dict, init=False, repr=False, compare=False)

    def target(self, model: str, prices: PriceMap) -> Target:
        cached = self._targets.get(model)
        if cached is None:
            cached = self._targets[model] = self._build_target(model, prices)
        return cached

    def _build_target(self, model: str, prices: PriceMap) -> Target:
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


def _chatgpt_credential(settings: Settings) -> tuple[str, str, str | None]:
    """(access token, LiteLLM auth file, reason unavailable): one of the first two is set when available."""
    token = settings.chatgpt_access_token.get_secret_value()
    if token:
        return token, "", None
    path = settings.chatgpt_auth_file.expanduser()
    data = _read_json(path) or {}
    tokens = data.get("tokens")
    # Codex CLI's auth.json nests its tokens (and refreshes them itself); LiteLLM's own auth file keeps them
    # at the top level, where LiteLLM reads and refreshes them, so it is handed over as a file.
    if isinstance(tokens, dict) and isinstance(tokens.get("access_token"), str):
        return str(tokens["access_token"]), "", None
    if isinstance(data.get("access_token"), str):
        return "", str(path), None
    reason = (
        f"no ChatGPT/Codex token: run `codex login` (creates {settings.chatgpt_auth_file}) or set "
        "CHATGPT_ACCESS_TOKEN"
    )
    return "", "", reason


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
            provider.api_key, auth_file, provider.reason = _chatgpt_credential(settings)
            # Named explicitly: without it `litellm.acompletion` resolves the provider before it looks at the
            # key, and for `chatgpt/` that means a device-code login it refuses to start on an event loop.
            provider.extra = {"custom_llm_provider": "chatgpt"}
            if auth_file:
                provider.extra["chatgpt_auth_file"] = auth_file
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


def _with_dashboard_credential(env: CloudProvider, sealed: str, service_token: str) -> CloudProvider:
    """The provider using the credential the dashboard set, or unavailable when it cannot be opened."""
    spec = env.spec
    try:
        credential = open_config_value(sealed, service_token).strip()
    except SecretUnreadable as exc:
        cause = str(exc)
    except NotConfigured as exc:
        cause = exc.detail
    except ValueError:
        cause = "the stored value is not JSON"
    else:
        if not credential:
            return env  # an emptied field in the dashboard means "not set here"
        # Every dashboard credential is the provider's bearer secret: an API key, the Claude Code OAuth token or
        # the ChatGPT access token (handed to LiteLLM as the key, so no auth file is involved).
        extra = {k: v for k, v in env.extra.items() if k != "chatgpt_auth_file"}
        return replace(
            env, available=True, reason=None, api_key=credential, extra=extra, credential_source="dashboard"
        )
    # Only what went wrong goes into the reason, never the value.
    reason = (
        f"the {spec.name} credential set in the dashboard ({provider_key_setting(spec.slug)}) cannot be read: "
        f"{cause}; enter it again, or give every Nova service the same NOVA_SERVICE_TOKEN"
    )
    return replace(env, available=False, reason=reason, api_key="", credential_source="dashboard")


class ProviderRegistry:
    def __init__(
        self, settings: Settings, local: LocalSlot, prices: PriceMap, config: RuntimeConfigStore
    ) -> None:
        self.settings = settings
        self.local = local
        self.prices = prices
        self.config = config
        self._service_token = settings.service_token.get_secret_value()
        self._from_env = build_cloud_providers(settings)
        self._cloud = dict(self._from_env)
        self._applied: Mapping[str, str] = {}
        self._applied_for: RuntimeConfig | None = None
        self._defaults: list[Target] | None = None
        for provider in self._cloud.values():
            self._log(provider)

    @staticmethod
    def _log(provider: CloudProvider) -> None:
        log.info(
            "provider_registered" if provider.available else "provider_disabled",
            provider=provider.spec.slug,
            credential=provider.credential_source,
            reason=provider.reason,
        )

    async def cloud_providers(self) -> dict[str, CloudProvider]:
        """The cloud providers as the current runtime config makes them (dashboard credentials applied)."""
        return self.cloud_for(await self.config.get())

    def cloud_for(self, config: RuntimeConfig) -> dict[str, CloudProvider]:
        # The store hands out the same object until it re-reads Redis, so most calls stop here.
        if config is not self._applied_for:
            self._apply(config.sealed_credentials)
            self._applied_for = config
        return self._cloud

    def _apply(self, sealed: Mapping[str, str]) -> None:
        if sealed == self._applied:
            return
        for slug in PROVIDER_KEY_SLUGS:
            value = sealed.get(slug)
            if value == self._applied.get(slug):
                continue
            env = self._from_env[slug]
            provider = env if value is None else _with_dashboard_credential(env, value, self._service_token)
            self._cloud[slug] = provider
            self._log(provider)
        self._applied = dict(sealed)
        self._defaults = None

    async def check_routable(self, model_id: str) -> None:
        """BadRequest unless `model_id` is a cloud id (checked by its form) or a model served now."""
        if re.fullmatch(CLOUD_MODEL_ID_PATTERN, model_id):
            return
        slug, model = self.split(model_id)
        if slug == LOCAL_SLUG and model in (await self.local.status()).models:
            return
        raise BadRequest(
            f"{model_id!r} is neither <provider>/<model> with a known provider nor a model served now; "
            "GET /models lists them"
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

    def cloud_defaults(self, config: RuntimeConfig) -> list[Target]:
        """One target per available cloud provider (its default model), in fallback order."""
        cloud = self.cloud_for(config)
        if self._defaults is None:
            self._defaults = [
                cloud[slug].target(cloud[slug].default_model, self.prices)
                for slug in CLOUD_FALLBACK_ORDER
                if cloud[slug].available and cloud[slug].default_model
            ]
        return list(self._defaults)

    async def statuses(self, *, refresh: bool = False) -> list[ProviderStatus]:
        local = await self.local.status(refresh=refresh)
        result = [self._local_status(local)]
        for provider in (await self.cloud_providers()).values():
            spec = provider.spec
            models = list(dict.fromkeys([provider.default_model, *spec.models]))
            result.append(
                ProviderStatus(
                    slug=spec.slug,
                    name=spec.name,
                    type=spec.type,
                    available=provider.available,
                    reason=provider.reason,
                    auth_methods=self._auth_methods(spec),
                    daily_quota=provider.daily_quota,
                    models=[
                        ProviderModel(id=f"{spec.slug}/{m}", registered=provider.available)
                        for m in models
                        if m
                    ],
                )
            )
        return result

    @staticmethod
    def _auth_methods(spec: ProviderSpec) -> list[str]:
        methods = list(spec.auth_methods)
        if spec.slug in PROVIDER_KEY_SLUGS:
            methods.append(f"dashboard ({provider_key_setting(spec.slug)})")
        return methods

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
        for provider in (await self.cloud_providers()).values():
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
